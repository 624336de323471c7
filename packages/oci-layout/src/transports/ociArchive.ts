import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import type { CopySource, ImageDestination } from '../copyImage.js';
import { DurableFileWriter } from '../durableFileWriter.js';
import type { Descriptor } from '../schema.js';
import { OciLayout } from '../ociLayout.js';
import { openOciDirDestination, openOciDirSource, type OciLayoutDestination, type SourceChoice } from './ociDir.js';

/** Archive members that may appear in an OCI or docker archive; anything else (or any path trick) is not extracted. */
const MEMBER = /^(?:oci-layout|index\.json|manifest\.json|repositories|blobs\/(?:sha256|sha512)\/[0-9a-f]{64,128}|[0-9a-f]{64}(?:\.json|\.tar|\/layer\.tar|\/json|\/VERSION))$/;

export async function makeTempDir(parent?: string): Promise<string> {
  const base = parent ?? tmpdir();
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, 'tsbuild-archive-'));
}

/**
 * Unpacks the members of an image archive (a tar of an OCI layout, maybe with
 * docker's manifest.json) into `dir`, streaming, keeping only regular files
 * with the names such archives use.
 */
async function extractImageArchive(file: string, dir: string): Promise<void> {
  const extract = tarExtract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
      if (header.type !== 'file' || !MEMBER.test(name)) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const target = join(dir, name);
      mkdir(dirname(target), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(target)))
        .then(() => next(), reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  await pipeline(createReadStream(file), extract).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read image archive ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  await done;
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
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const pack = tarPack();
  try {
    const written = pipeline(pack, new DurableFileWriter(tmp));
    for await (const rel of filesUnder(dir)) {
      const { size } = await stat(join(dir, rel));
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: rel, size, mode: 0o644, mtime: new Date(0), type: 'file' }, (e) => (e ? reject(e) : resolve()));
        pipeline(createReadStream(join(dir, rel)), entry as unknown as Writable).catch(reject);
      });
    }
    pack.finalize();
    await written;
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
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
