import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { detectCompression } from '../compression.js';
import { digestOf, InvalidDigestError, parseDigest, type Digest } from '../digest.js';
import type { Image, Layer } from '../image.js';
import { MediaType } from '../mediaTypes.js';
import { nodeCrypto } from '../onDemandBuiltins.js';
import { canonicalJson, MAX_DOCUMENT_BYTES, parseImageConfig, type Descriptor, type Manifest } from '../schema.js';
import { FAILURE_EXIT_CODE, ToolError } from '../toolError.js';
import { VerifyingStream } from '../verifyingStream.js';
import { normaliseLayerPath } from '../layerReader.js';
import { TarFormatError } from '../tarHeader.js';
import { TarParser } from '../tarParser.js';

/** 'not-a-docker-archive': a tar, but not `docker save` output (no manifest.json), perhaps an oci-archive; else the archive cannot be read. */
export type DockerArchiveErrorKind = 'not-a-docker-archive' | 'unreadable';

export class DockerArchiveError extends ToolError<DockerArchiveErrorKind> {
  constructor(message: string, kind: DockerArchiveErrorKind = 'unreadable') {
    super(kind, message, FAILURE_EXIT_CODE);
  }
}

/** Docker's media type for an uncompressed layer tar, which `docker save` archives hold. */
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const BLOCK = 512;

interface Member {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  linkname: string;
  /** Where the member's data starts in the archive file. */
  offset: number;
  size: number;
}

/** A docker-archive image also tells which archive member each layer came from (dive names layers by it). */
export interface DockerArchiveImage extends Image {
  layerPaths: string[];
  repoTags: string[];
  /** How many images the archive holds (`docker save A B`); open each by its index. */
  imageCount: number;
}

interface ManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/**
 * Opens a `docker save` archive without extracting it: the outer tar's headers
 * are scanned once to learn where each member lies, then manifest.json and the
 * config are read and every layer is served as a byte range of the archive.
 * `ref` picks the image by one of its RepoTags, or by its index in manifest.json,
 * when the archive holds several.
 */
export async function openDockerArchive(file: string, ref?: string | number): Promise<DockerArchiveImage> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DockerArchiveError(`cannot open docker archive ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`);
  }
  try {
    const members = await scanMembers(handle, file);
    const readMember = async (name: string): Promise<Buffer> => {
      const m = resolveMember(members, name, file);
      if (m.size > MAX_DOCUMENT_BYTES) throw new DockerArchiveError(`${file}: ${name} is too large to be a JSON document (${m.size} bytes)`);
      return readRange(handle, m.offset, m.size);
    };
    if (!members.has('manifest.json')) throw new DockerArchiveError(`${file} is not a docker save archive: it has no manifest.json`, 'not-a-docker-archive');
    const entries = parseArchiveManifest(await readMember('manifest.json'), file);
    const entry = pickManifestEntry(entries, ref, file);
    const configBytes = await readMember(entry.Config);
    let config;
    try {
      config = parseImageConfig(configBytes);
    } catch (e) {
      throw new DockerArchiveError(`${file}: ${entry.Config}: ${(e as Error).message}`);
    }
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw new DockerArchiveError(`${file}: manifest.json lists ${entry.Layers.length} layers but the config has ${diffIds.length} diff_ids`);
    }
    const layers: Layer[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const member = resolveMember(members, path, file);
      const diffId = diffIds[i]!;
      const head = await readRange(handle, member.offset, Math.min(member.size, 4));
      const compression = detectCompression(head);
      const digest = compression === 'none' ? diffId : (digestFromBlobPath(path) ?? (await hashRange(file, member)));
      const descriptor: Descriptor = {
        mediaType: compression === 'none' ? DOCKER_LAYER_TAR : compression === 'gzip' ? MediaType.dockerLayerGzip : MediaType.ociLayerZstd,
        digest,
        size: member.size,
      };
      layers.push({ descriptor, diffId, open: async () => openRange(file, member, digest, `layer ${path}`) });
    }
    const configDescriptor: Descriptor = { mediaType: MediaType.dockerConfig, digest: digestOf(configBytes), size: configBytes.length };
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    };
    const manifestBytes = canonicalJson(manifest);
    return {
      manifestBytes,
      manifestDigest: digestOf(manifestBytes),
      manifest,
      configBytes,
      config,
      layers,
      layerPaths: [...entry.Layers],
      repoTags: [...entry.RepoTags],
      imageCount: entries.length,
    };
  } finally {
    await handle.close();
  }
}

async function readRange(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

function openRange(file: string, member: Member, digest: Digest, what: string): Readable {
  const verifier = new VerifyingStream(digest, member.size, what);
  if (member.size === 0) {
    verifier.end();
    return verifier;
  }
  // A read error reaches the reader through the verifier, which pipeline destroys with it.
  return pipeline(createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 }), verifier, () => {});
}

async function hashRange(file: string, member: Member): Promise<Digest> {
  const hash = nodeCrypto().createHash('sha256');
  if (member.size > 0) {
    for await (const chunk of createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 })) hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}` as Digest;
}

/** Docker 25+ archives are OCI layouts too: their layer paths carry the blob digest. */
function digestFromBlobPath(path: string): Digest | undefined {
  const match = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(path);
  if (!match) return undefined;
  try {
    return parseDigest(`${match[1]}:${match[2]}`);
  } catch (e) {
    // Hex of the wrong length: a path that only looks like a blob's.
    if (e instanceof InvalidDigestError) return undefined;
    throw e;
  }
}

/** `docker save` writes shared layers once and links the other occurrences to it (symlink or hard link). */
function resolveMember(members: Map<string, Member>, name: string, file: string): Member {
  let current = normaliseLayerPath(name);
  for (let hops = 0; hops < 16; hops++) {
    const m = members.get(current);
    if (!m) throw new DockerArchiveError(`${file}: archive member ${name} is missing`);
    if (m.type === 'symlink') current = normaliseLayerPath(posix.join(posix.dirname(current), m.linkname));
    else if (m.type === 'hardlink') current = normaliseLayerPath(m.linkname);
    else return m;
  }
  throw new DockerArchiveError(`${file}: archive member ${name} is a link loop`);
}

function parseArchiveManifest(bytes: Buffer, file: string): ManifestEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DockerArchiveError(`${file}: manifest.json is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new DockerArchiveError(`${file}: manifest.json must be a non-empty array`);
  return doc.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (typeof e !== 'object' || e === null || typeof e.Config !== 'string' || !strings(e.Layers)) {
      throw new DockerArchiveError(`${file}: manifest.json entry ${i} needs "Config" (string) and "Layers" (array of strings)`);
    }
    return { Config: e.Config, Layers: e.Layers as string[], RepoTags: strings(e.RepoTags) ? (e.RepoTags as string[]) : [] };
  });
}

function pickManifestEntry(entries: ManifestEntry[], ref: string | number | undefined, file: string): ManifestEntry {
  if (ref === undefined || ref === '') return entries[0]!;
  if (typeof ref === 'number') {
    const entry = entries[ref];
    if (!entry) throw new DockerArchiveError(`${file}: no image #${ref} (the archive holds ${entries.length})`);
    return entry;
  }
  const wanted = [ref, ref.includes(':') ? ref : `${ref}:latest`];
  const found = entries.find((e) => e.RepoTags.some((tag) => wanted.includes(tag) || wanted.some((w) => tag.endsWith(`/${w}`))));
  if (!found) {
    const tags = entries.flatMap((e) => e.RepoTags);
    throw new DockerArchiveError(`${file}: no image tagged ${ref} (tags: ${tags.length ? tags.join(', ') : 'none'})`);
  }
  return found;
}

/** A tar format error of the outer archive, said as the archive's. */
function archiveFormatError(error: TarFormatError, file: string, offset: number): DockerArchiveError {
  switch (error.reason) {
    case 'checksum':
      return new DockerArchiveError(offset === 0 ? `${file} is not a docker archive (not a tar file)` : `${file} is corrupt: bad tar header checksum at byte ${offset}`);
    case 'truncated':
      return new DockerArchiveError(`${file} is truncated: tar header at byte ${offset} is incomplete`);
    case 'corrupt':
    case 'too-large':
      return new DockerArchiveError(`${file} is corrupt at byte ${offset}: ${error.message}`);
  }
}

function memberType(typeflag: string): Member['type'] {
  return typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : typeflag === '5' ? 'directory' : 'file';
}

/**
 * Walks the outer tar's headers only: the tar parser is handed one header
 * block at a time and told to skip each member's data, so opening an archive
 * of many gigabytes reads a few kilobytes.
 */
async function scanMembers(handle: FileHandle, file: string): Promise<Map<string, Member>> {
  const fileSize = (await handle.stat()).size;
  const members = new Map<string, Member>();
  let offset = 0;
  let last: Member | undefined;
  const parser = new TarParser({
    member(member) {
      if (member.typeflag === 'g') return;
      const name = normaliseLayerPath(member.name);
      // The block just handed over is the member's last header block: its data starts where that block ends.
      last = { name, type: memberType(member.typeflag), linkname: member.linkname, offset: offset + BLOCK, size: member.size };
      members.set(name, last);
    },
    content() {},
    memberEnd() {},
  });
  while (!parser.ended) {
    const skip = parser.skipContent();
    if (skip > 0) {
      if (offset + skip > fileSize && last) {
        throw new DockerArchiveError(`${file} is truncated: member ${last.name} needs ${last.size} bytes at byte ${last.offset}, the file ends at ${fileSize}`);
      }
      offset += skip;
      continue;
    }
    const block = await readRange(handle, offset, BLOCK);
    if (offset === 0 && block.length < BLOCK) throw new DockerArchiveError(`${file} is not a docker archive (not a tar file)`);
    try {
      parser.write(block);
      if (block.length < BLOCK) {
        parser.end();
        break;
      }
    } catch (e) {
      if (e instanceof TarFormatError) throw archiveFormatError(e, file, offset);
      throw e;
    }
    offset += BLOCK;
  }
  return members;
}
