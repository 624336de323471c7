import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CopySource, ImageDestination } from '../copyImage.js';
import { writeNewFile } from '../durableFileWriter.js';
import type { LayerChange } from '../layerEntry.js';
import { normaliseLayerPath } from '../layerReader.js';
import { tarStream } from '../layerWriter.js';
import { TarFormatError } from '../tarHeader.js';
import { TarParser } from '../tarParser.js';
import type { Descriptor } from '../schema.js';
import { OciLayout } from '../ociLayout.js';
import { nodeCrypto } from '../onDemandBuiltins.js';
import { openOciDirDestination, openOciDirSource, type OciLayoutDestination, type SourceChoice } from './ociDir.js';

/** Archive members that may appear in an OCI or docker archive; anything else (or any path trick) is not extracted. */
const MEMBER = /^(?:oci-layout|index\.json|manifest\.json|repositories|blobs\/(?:sha256|sha512)\/[0-9a-f]{64,128}|[0-9a-f]{64}(?:\.json|\.tar|\/layer\.tar|\/json|\/VERSION))$/;

export async function makeTempDir(parent?: string): Promise<string> {
  const base = parent ?? tmpdir();
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, 'tsbuild-archive-'));
}

/** One step of unpacking, found by the tar parser in a chunk and carried out (asynchronously) after it. */
type UnpackStep = { member: string | undefined } | { piece: Buffer } | 'end';

/** Writes the wanted members to files as the steps come: each opened at its header, written piece by piece, closed at its end. */
class MemberFiles {
  private handle: FileHandle | undefined;

  constructor(private readonly dir: string) {}

  async take(step: UnpackStep): Promise<void> {
    if (step === 'end') {
      await this.close();
    } else if ('member' in step) {
      if (step.member === undefined) return;
      const target = join(this.dir, step.member);
      await mkdir(dirname(target), { recursive: true });
      this.handle = await open(target, 'w');
    } else if (this.handle) {
      for (let at = 0; at < step.piece.length; ) at += (await this.handle.write(step.piece, at)).bytesWritten;
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/**
 * Unpacks the members of an image archive (a tar of an OCI layout, maybe with
 * docker's manifest.json) into `dir`, streaming, keeping only regular files
 * with the names such archives use.
 */
async function extractImageArchive(file: string, dir: string): Promise<void> {
  const steps: UnpackStep[] = [];
  const parser = new TarParser({
    member(member) {
      const name = normaliseLayerPath(member.name);
      const wanted = (member.typeflag === '0' || member.typeflag === '7') && !member.sparse && MEMBER.test(name);
      steps.push({ member: wanted ? name : undefined });
    },
    content: (piece) => steps.push({ piece }),
    memberEnd: () => steps.push('end'),
  });
  const files = new MemberFiles(dir);
  try {
    for await (const chunk of createReadStream(file)) {
      parser.write(chunk as Buffer);
      // The pieces are views of this chunk: written before the next one is read.
      for (const step of steps.splice(0)) await files.take(step);
    }
    parser.end();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TarFormatError || code === 'ENOENT') {
      throw new Error(`cannot read image archive ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    throw e;
  } finally {
    await files.close();
  }
}

async function* filesUnder(dir: string, prefix = ''): AsyncGenerator<string> {
  for (const entry of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* filesUnder(dir, rel);
    else if (entry.isFile() && MEMBER.test(rel)) yield rel;
  }
}

/**
 * Writes the image files of `dir` as a tar at `file`, atomically: a temp file
 * beside it, fsynced, then renamed, so a reader never sees half an archive.
 */
export async function packImageArchive(dir: string, file: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`;
  try {
    await writeNewFile(tmp, tarStream(imageFiles(dir)));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function* imageFiles(dir: string): AsyncGenerator<LayerChange> {
  for await (const rel of filesUnder(dir)) {
    const path = join(dir, rel);
    const { size } = await stat(path);
    yield { kind: 'entry', entry: { path: rel, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size, open: () => createReadStream(path) } };
  }
}

/** A source read from a temp copy that `close` removes. */
export interface ArchiveSource {
  source: CopySource;
  close(): Promise<void>;
}

/** An oci-archive unpacked to a temp dir, read as a layout (every image of its index.json); `close` removes it. */
export async function openOciArchiveLayout(file: string, tmpParent?: string): Promise<{ dir: string; layout: OciLayout; close(): Promise<void> }> {
  const dir = await makeTempDir(tmpParent);
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    await extractImageArchive(file, dir);
    return { dir, layout: await OciLayout.open(dir), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** `oci-archive:FILE[:REF]` as a source: unpacked to a temp dir (removed by `close`), then read as a layout. */
export async function openOciArchiveSource(file: string, ref: string | undefined, choice: SourceChoice = {}, tmpParent?: string): Promise<ArchiveSource> {
  const { dir, close } = await openOciArchiveLayout(file, tmpParent);
  try {
    return { source: await openOciDirSource(dir, ref, choice), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * `oci-archive:FILE[:REF]` as a destination: an OCI layout built in a temp dir
 * and packed into FILE by `commit`; `close` removes the temp dir.
 */
export class OciArchiveDestination implements ImageDestination {
  private constructor(
    private readonly inner: OciLayoutDestination,
    private readonly dir: string,
    private readonly file: string,
  ) {}

  /** The root is named by each of `refs` in the archive's index.json (none: an unnamed entry). */
  static async create(file: string, refs: string[], tmpParent?: string): Promise<OciArchiveDestination> {
    const dir = await makeTempDir(tmpParent);
    return new OciArchiveDestination(await openOciDirDestination(join(dir, 'layout'), refs), dir, file);
  }

  hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.inner.hasBlob(descriptor);
  }

  putBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    return this.inner.putBlob(descriptor, open);
  }

  putManifest(bytes: Buffer, descriptor: Descriptor, root: boolean): Promise<void> {
    return this.inner.putManifest(bytes, descriptor, root);
  }

  async commit(): Promise<void> {
    await packImageArchive(join(this.dir, 'layout'), this.file);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
