import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DigestingStream, InvalidDigestError, digestAlgorithm, digestHex, digestOf, parseDigest, type Digest, type DigestAlgorithm } from './digest.js';
import { writeNewFile } from './durableFileWriter.js';
import { withFileLock } from './fileLock.js';
import { readdirIfExists, statIfExists } from './ifExists.js';
import { withNoSpacePath } from './noSpaceLeft.js';
import { nodeCrypto } from './onDemandBuiltins.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './mediaTypes.js';
import { chooseManifest, NoImageError } from './platform.js';
import { canonicalJson, MAX_DOCUMENT_BYTES, parseImageConfig, parseIndex, parseManifest, type Descriptor, type Index, type Platform } from './schema.js';
import { DigestMismatchError, VerifyingStream } from './verifyingStream.js';
import type { Image, Layer } from './image.js';
import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';


export interface OpenLayoutOptions {
  /** Create `oci-layout`, `index.json` and `blobs/` when missing. */
  create?: boolean;
  /** Where partial blobs are written before the rename; must be on the same filesystem. */
  tmpDir?: string;
}

/**
 * An OCI image layout directory used as a content-addressed blob store. Blobs
 * are written to a temp file, verified, then renamed into place; `index.json`
 * is only ever replaced atomically while holding a lock, so concurrent writers
 * never lose each other's entries and a killed writer leaves a readable layout.
 */
export class OciLayout {
  private constructor(
    readonly dir: string,
    private readonly tmpDir: string,
  ) {}

  static async open(dir: string, opts: OpenLayoutOptions = {}): Promise<OciLayout> {
    const tmpDir = opts.tmpDir ?? dir;
    const layoutFile = join(dir, 'oci-layout');
    let header: string | undefined;
    try {
      header = await readFile(layoutFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (header === undefined) {
      if (!opts.create) throw new ToolError('not-an-oci-layout', `${dir} is not an OCI image layout (no oci-layout file)`, FAILURE_EXIT_CODE);
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      await mkdir(tmpDir, { recursive: true });
      const layout = new OciLayout(dir, tmpDir);
      await layout.writeAtomically(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await withFileLock(layout.lockPath, async () => {
        const exists = (await statIfExists(layout.indexPath)) !== undefined;
        if (!exists) await layout.writeAtomically(layout.indexPath, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }));
      });
      return layout;
    }
    try {
      const parsed = JSON.parse(header) as { imageLayoutVersion?: unknown };
      if (typeof parsed.imageLayoutVersion !== 'string') throw new Error('no imageLayoutVersion');
    } catch (e) {
      throw new ToolError('not-an-oci-layout', `${layoutFile} is not a valid oci-layout file: ${(e as Error).message}`, FAILURE_EXIT_CODE);
    }
    await mkdir(tmpDir, { recursive: true });
    return new OciLayout(dir, tmpDir);
  }

  get indexPath(): string {
    return join(this.dir, 'index.json');
  }

  private get lockPath(): string {
    return join(this.dir, 'index.json.lock');
  }

  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await this.blobSize(digest)) !== undefined;
  }

  /** A stream of the blob that errors at its end unless the bytes match `digest` (and `size`). */
  async openBlob(digest: Digest, size?: number): Promise<Readable> {
    const path = this.blobPath(digest);
    const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new ToolError('blob-not-found', `blob ${digest} is missing from ${this.dir}`, FAILURE_EXIT_CODE);
      throw e;
    });
    const verify = new VerifyingStream(digest, size);
    const source = fh.createReadStream({ highWaterMark: 256 * 1024 });
    source.on('error', (e) => verify.destroy(e));
    // A reader that stops early (an unpack that hit a full disk) destroys the stream it holds, the verifier;
    // the file under it must close then too, not when the garbage collector finds its handle.
    verify.on('close', () => source.destroy());
    return source.pipe(verify);
  }

  /** Reads a small document blob whole, verified. */
  async readBlob(digest: Digest, size?: number): Promise<Buffer> {
    if (size !== undefined && size > MAX_DOCUMENT_BYTES) throw new Error(`blob ${digest} is too large to read as a document (${size} bytes)`);
    const data = await readFile(this.blobPath(digest)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new ToolError('blob-not-found', `blob ${digest} is missing from ${this.dir}`, FAILURE_EXIT_CODE);
      throw e;
    });
    if (size !== undefined && data.length !== size) throw new DigestMismatchError(`blob ${digest} has ${data.length} bytes, descriptor says ${size}`);
    const actual = digestOf(data, digestAlgorithm(digest));
    if (actual !== digest) throw new DigestMismatchError(`blob digest mismatch: expected ${digest}, got ${actual}`);
    return data;
  }

  /**
   * Streams `source` into the store in one pass: temp file + hash, verify
   * against `expected` when given, fsync, rename. An existing blob is kept.
   * `sourceVerifies` says that `source` itself fails at its end unless its
   * bytes hash to `expected` (a VerifyingStream, as every image source's
   * blobs are): the blob is then not hashed a second time, which is a third
   * of a pull's CPU time.
   */
  async putBlob(source: Readable, opts: { expected?: Digest; algorithm?: DigestAlgorithm; sourceVerifies?: boolean } = {}): Promise<{ digest: Digest; size: number }> {
    const algorithm = opts.expected ? digestAlgorithm(opts.expected) : (opts.algorithm ?? 'sha256');
    const tmp = join(this.tmpDir, `.blob-${process.pid}-${nodeCrypto().randomBytes(8).toString('hex')}`);
    try {
      let digest: Digest;
      let size: number;
      if (opts.expected && opts.sourceVerifies) {
        size = await writeNewFile(tmp, source);
        digest = opts.expected;
      } else {
        const hasher = new DigestingStream(algorithm);
        await writeNewFile(tmp, source, hasher);
        digest = hasher.digest;
        size = hasher.size;
        if (opts.expected && digest !== opts.expected) {
          throw new DigestMismatchError(`content digest mismatch: expected ${opts.expected}, got ${digest}`);
        }
      }
      await this.moveIntoPlace(tmp, digest);
      return { digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Stores the blob that `write` puts into a new file at the temp path it is given: `write`
   * vouches that the file holds exactly `expected`'s bytes and is fsynced (a verifying download).
   * The file is renamed into place, or removed when `write` fails.
   */
  async putBlobFile(expected: Digest, write: (path: string) => Promise<void>): Promise<{ digest: Digest; size: number }> {
    const tmp = join(this.tmpDir, `.blob-${process.pid}-${nodeCrypto().randomBytes(8).toString('hex')}`);
    try {
      await write(tmp);
      const { size } = await stat(tmp);
      await this.moveIntoPlace(tmp, expected);
      return { digest: expected, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async putBlobBytes(data: Uint8Array, expected?: Digest): Promise<{ digest: Digest; size: number }> {
    const digest = digestOf(data, expected ? digestAlgorithm(expected) : 'sha256');
    if (expected && digest !== expected) throw new DigestMismatchError(`content digest mismatch: expected ${expected}, got ${digest}`);
    if (await this.hasBlob(digest)) return { digest, size: data.length };
    const tmp = join(this.tmpDir, `.blob-${process.pid}-${nodeCrypto().randomBytes(8).toString('hex')}`);
    try {
      await this.writeDurably(tmp, data);
      await this.moveIntoPlace(tmp, digest);
    } finally {
      await rm(tmp, { force: true });
    }
    return { digest, size: data.length };
  }

  /** Stores a JSON document with its exact bytes and returns its descriptor. */
  async putDocument(doc: unknown, mediaType: string): Promise<Descriptor> {
    const bytes = canonicalJson(doc);
    const { digest, size } = await this.putBlobBytes(bytes);
    return { mediaType, digest, size };
  }

  /** Renames a temp file that is already on disk into the blob's place. */
  private async moveIntoPlace(tmp: string, digest: Digest): Promise<void> {
    const dest = this.blobPath(digest);
    await mkdir(join(this.dir, 'blobs', digestAlgorithm(digest)), { recursive: true });
    await rename(tmp, dest);
  }

  private async writeDurably(path: string, data: string | Uint8Array): Promise<void> {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw withNoSpacePath(e, path);
    }
  }

  private async writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`;
    try {
      await this.writeDurably(tmp, data);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async readIndex(): Promise<Index> {
    return parseIndex(await readFile(this.indexPath));
  }

  /** Read-modify-write of index.json under the layout's lock; the file is replaced atomically. */
  async updateIndex(change: (index: Index) => Index | Promise<Index>): Promise<Index> {
    return withFileLock(this.lockPath, async () => {
      const next = await change(await this.readIndex());
      await this.writeAtomically(this.indexPath, `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
  }

  /** Replaces index.json whatever it holds now (a repair of an unreadable one). */
  async replaceIndex(index: Index): Promise<void> {
    await withFileLock(this.lockPath, () => this.writeAtomically(this.indexPath, `${JSON.stringify(index, null, 2)}\n`));
  }

  /** Every blob file in the layout, for garbage collection. */
  async *listBlobs(): AsyncGenerator<{ digest: Digest; size: number; mtimeMs: number }> {
    const blobs = join(this.dir, 'blobs');
    for (const alg of await readdirIfExists(blobs)) {
      for (const hex of await readdir(join(blobs, alg))) {
        let digest: Digest;
        try {
          digest = parseDigest(`${alg}:${hex}`);
        } catch (e) {
          // A stray file that names no blob (a digest it cannot be) is not ours to collect.
          if (e instanceof InvalidDigestError) continue;
          throw e;
        }
        const st = await stat(join(blobs, alg, hex));
        yield { digest, size: st.size, mtimeMs: st.mtimeMs };
      }
    }
  }

  async removeBlob(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /** All digests reachable from `roots`, following indexes and manifests. */
  async reachable(roots: Descriptor[]): Promise<Set<Digest>> {
    const seen = new Set<Digest>();
    const queue = [...roots];
    while (queue.length > 0) {
      const d = queue.pop()!;
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      if (!(await this.hasBlob(d.digest))) continue;
      if (isIndexMediaType(d.mediaType)) {
        queue.push(...parseIndex(await this.readBlob(d.digest, d.size), d.mediaType).manifests);
      } else if (isManifestMediaType(d.mediaType)) {
        const m = parseManifest(await this.readBlob(d.digest, d.size), d.mediaType);
        queue.push(m.config, ...m.layers);
        if (m.subject) queue.push(m.subject);
      }
    }
    return seen;
  }

  /** Finds the index.json entry whose ref name is `ref`. */
  async findRef(ref: string): Promise<Descriptor | undefined> {
    const index = await this.readIndex();
    return index.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
  }

  /**
   * Loads the image a descriptor points at. An index is resolved to the
   * manifest for `platform` (the first one when none is given and there is
   * only one candidate).
   */
  /**
   * The image, or undefined when the descriptor leads to none for the
   * platform (an index of other platforms, an artifact); a missing or
   * corrupt blob still throws.
   */
  async readImageIfAny(descriptor: Descriptor, platform?: Platform): Promise<Image | undefined> {
    try {
      return await this.readImage(descriptor, platform);
    } catch (e) {
      if (e instanceof NoImageError) return undefined;
      throw e;
    }
  }

  async readImage(descriptor: Descriptor, platform?: Platform): Promise<Image> {
    let desc = descriptor;
    for (let depth = 0; isIndexMediaType(desc.mediaType); depth++) {
      if (depth > 4) throw new Error('image index nesting is too deep');
      const index = parseIndex(await this.readBlob(desc.digest, desc.size), desc.mediaType);
      desc = chooseManifest(index, platform);
    }
    if (!isManifestMediaType(desc.mediaType)) throw new NoImageError(`${desc.digest} is a ${desc.mediaType}, not an image manifest`);
    const manifestBytes = await this.readBlob(desc.digest, desc.size);
    const manifest = parseManifest(manifestBytes, desc.mediaType);
    const configBytes = await this.readBlob(manifest.config.digest, manifest.config.size);
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new Error(`image ${desc.digest}: config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`);
    }
    return {
      manifestBytes,
      manifestDigest: desc.digest,
      manifest,
      configBytes,
      config,
      layers: manifest.layers.map((layer, i) => this.storedLayer(layer, config.rootfs.diff_ids[i]!)),
    };
  }

  /** A layer whose blob is (or will be, before it is read) in this layout. */
  storedLayer(descriptor: Descriptor, diffId: Digest): Layer {
    return { descriptor, diffId, open: () => this.openBlob(descriptor.digest, descriptor.size) };
  }
}
