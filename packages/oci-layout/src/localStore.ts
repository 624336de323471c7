import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Digest } from './digest.js';
import type { Image } from './image.js';
import { normalizeImageName } from './imageName.js';
import { OciLayout, REF_NAME_ANNOTATION } from './ociLayout.js';
import { readdirIfExists, readTextIfExists, statIfExists } from './ifExists.js';
import { withFileLock } from './fileLock.js';
import { GzipMemberIndex } from './gzipMemberIndex.js';
import { withNoSpacePath } from './noSpaceLeft.js';
import { nodeCrypto } from './onDemandBuiltins.js';
import { currentProcess, formatProcessIdentity, parseProcessIdentity, processAlive, type ProcessIdentity } from './processIdentity.js';
import type { Descriptor, Platform } from './schema.js';

/** `--root DIR`, else `$TSBUILD_ROOT`, else `${XDG_DATA_HOME:-~/.local/share}/tsbuild`. */
export function storeRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.TSBUILD_ROOT) return resolve(env.TSBUILD_ROOT);
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'tsbuild');
}

/** An image the store's index holds: by name, or (a build without -t) as an entry with no name. */
export interface StoredImage {
  name?: string;
  descriptor: Descriptor;
}

export class ImageNotFoundError extends Error {}

/** A hex prefix that starts the IDs of more than one stored image: not a name to look anywhere else for. */
export class AmbiguousImageIdError extends Error {
  constructor(readonly prefix: string) {
    super(`image ID prefix "${prefix}" is ambiguous`);
  }
}

/**
 * The embedded default store: `<root>/oci` is a plain OCI image layout whose
 * index.json names every image by its fully qualified reference, so skopeo
 * and umoci read it as `oci:<root>/oci:localhost/hello:latest`. Temp files,
 * cache and leases live beside it, never inside `blobs/`.
 */
export class LocalStore {
  private memberIndex?: GzipMemberIndex;

  private constructor(
    readonly root: string,
    readonly layout: OciLayout,
  ) {}

  /** The store at `root`, made there first unless `create` is false (then a missing store is a ToolError). */
  static async open(root: string, opts: { create?: boolean } = {}): Promise<LocalStore> {
    const create = opts.create ?? true;
    if (create) await mkdir(root, { recursive: true });
    const layout = await OciLayout.open(join(root, 'oci'), { create, tmpDir: join(root, 'tmp') });
    return new LocalStore(root, layout);
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  get cacheDir(): string {
    return join(this.root, 'cache');
  }

  /** Where the gzip members of recently stored layers lie, for a layer written again to take them. */
  get gzipMembers(): GzipMemberIndex {
    this.memberIndex ??= new GzipMemberIndex(join(this.cacheDir, 'gzip-members'), this.layout);
    return this.memberIndex;
  }

  private get leaseDir(): string {
    return join(this.root, 'leases');
  }

  /** Named images, then unnamed (dangling) ones, each unnamed digest once. */
  async list(): Promise<StoredImage[]> {
    const index = await this.layout.readIndex();
    const named = index.manifests
      .filter((d) => d.annotations?.[REF_NAME_ANNOTATION])
      .map((d) => ({ name: d.annotations![REF_NAME_ANNOTATION]!, descriptor: d }));
    const unnamed = new Map(index.manifests.filter((d) => !d.annotations?.[REF_NAME_ANNOTATION]).map((d) => [d.digest, { descriptor: d }]));
    return [...named, ...unnamed.values()];
  }

  /**
   * Finds an image by name (normalised: `hello` means `localhost/hello:latest`),
   * by full manifest digest, or by a unique digest prefix of at least 4 hex
   * characters, as `docker images` IDs are used. Unnamed images are reached
   * by digest only; a digest with names resolves to one of its names.
   */
  async resolve(ref: string): Promise<StoredImage> {
    const images = await this.list();
    const hexPrefix = ref.replace(/^sha256:/, '');
    if (/^[0-9a-f]{4,64}$/.test(hexPrefix)) {
      const byDigest = images.filter((i) => i.descriptor.digest.slice('sha256:'.length).startsWith(hexPrefix));
      const distinct = new Set(byDigest.map((i) => i.descriptor.digest));
      if (distinct.size === 1) return byDigest[0]!;
      if (distinct.size > 1) throw new AmbiguousImageIdError(ref);
    }
    let name: string;
    try {
      name = normalizeImageName(ref);
    } catch (e) {
      throw new ImageNotFoundError((e as Error).message);
    }
    const found = images.find((i) => i.name !== undefined && i.name === name);
    if (!found) throw new ImageNotFoundError(`image "${ref}" not found in the store ${this.root} (looked for ${name})`);
    return found;
  }

  async readImage(ref: string, platform?: Platform): Promise<Image> {
    return this.layout.readImage((await this.resolve(ref)).descriptor, platform);
  }

  /**
   * Points each name at `descriptor`, replacing what those names pointed at
   * before; a named image is no longer dangling, so its unnamed entry goes.
   */
  async tag(descriptor: Descriptor, names: string[]): Promise<string[]> {
    const full = names.map((n) => normalizeImageName(n));
    await this.layout.updateIndex((index) => ({
      ...index,
      manifests: [
        ...index.manifests.filter((d) => {
          const name = d.annotations?.[REF_NAME_ANNOTATION];
          return name ? !full.includes(name) : !(full.length > 0 && d.digest === descriptor.digest);
        }),
        ...full.map((name) => ({
          mediaType: descriptor.mediaType,
          digest: descriptor.digest,
          size: descriptor.size,
          ...(descriptor.platform ? { platform: descriptor.platform } : {}),
          annotations: { ...descriptor.annotations, [REF_NAME_ANNOTATION]: name },
        })),
      ],
    }));
    return full;
  }

  /** Records an image without a name (a build without -t), so `prune` keeps it, as docker keeps dangling images. */
  async keepUnnamed(descriptor: Descriptor): Promise<void> {
    await this.layout.updateIndex((index) =>
      index.manifests.some((d) => d.digest === descriptor.digest && !d.annotations?.[REF_NAME_ANNOTATION])
        ? index
        : { ...index, manifests: [...index.manifests, descriptor] },
    );
  }

  /** Removes one name, or an unnamed image's entry; blobs stay until `prune`. */
  async untag(ref: string): Promise<StoredImage> {
    const image = await this.resolve(ref);
    await this.layout.updateIndex((index) => ({
      ...index,
      manifests: index.manifests.filter((d) => {
        const name = d.annotations?.[REF_NAME_ANNOTATION];
        return image.name === undefined ? name !== undefined || d.digest !== image.descriptor.digest : name !== image.name;
      }),
    }));
    return image;
  }

  /** Drops the index entries of unnamed images (`image prune`); returns them. Blobs go with `prune`. */
  async removeUnnamed(): Promise<StoredImage[]> {
    const removed: StoredImage[] = [];
    await this.layout.updateIndex((index) => {
      removed.splice(0, removed.length, ...index.manifests.filter((d) => !d.annotations?.[REF_NAME_ANNOTATION]).map((d) => ({ descriptor: d })));
      return { ...index, manifests: index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION]) };
    });
    return removed;
  }

  private get collectionLockPath(): string {
    return join(this.root, 'gc.lock');
  }

  /**
   * Marks a write in progress. While any live lease exists, `prune` deletes
   * nothing: a writer may be about to name a blob that no index entry names
   * yet, or one it found already stored. A lease begins only while no
   * collection runs, so a prune never starts deleting under a new writer.
   */
  async lease<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.leaseDir, { recursive: true });
    const file = join(this.leaseDir, `${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`);
    try {
      await withFileLock(this.collectionLockPath, () => writeFile(file, formatProcessIdentity(currentProcess()))).catch((e: unknown) => {
        throw withNoSpacePath(e, file);
      });
      return await fn();
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Every lease file and whether the process that took it still runs. */
  async leases(): Promise<StoreLease[]> {
    const out: StoreLease[] = [];
    for (const name of await readdirIfExists(this.leaseDir)) {
      const file = join(this.leaseDir, name);
      const text = await readTextIfExists(file);
      // Its owner finished between the listing and the read.
      if (text === undefined) continue;
      const owner = parseProcessIdentity(text) ?? parseProcessIdentity(name.split('-')[0] ?? '');
      out.push({ file, ...(owner ? { owner } : {}), alive: owner !== undefined && processAlive(owner) });
    }
    return out;
  }

  /**
   * Runs `fn` while no lease can begin, with the owners of the live leases
   * (those of killed processes are removed first).
   */
  async whileNoLeaseBegins<T>(fn: (busy: ProcessIdentity[]) => Promise<T>): Promise<T> {
    return withFileLock(this.collectionLockPath, async () => {
      const busy: ProcessIdentity[] = [];
      for (const lease of await this.leases()) {
        if (lease.alive) busy.push(lease.owner!);
        else await rm(lease.file, { force: true });
      }
      return fn(busy);
    });
  }

  /**
   * Deletes blobs no index entry reaches, plus leftovers of killed writers in
   * tmp/. `alsoKeep` are further roots (the images containers run). While a
   * build or pull runs (a live lease) nothing is deleted and `busy` names who
   * holds the store.
   */
  async prune(alsoKeep: Descriptor[] = []): Promise<{ blobs: number; bytes: number; busy: ProcessIdentity[] }> {
    return this.whileNoLeaseBegins(async (busy) => {
      if (busy.length > 0) return { blobs: 0, bytes: 0, busy };
      const keep = await this.layout.reachable([...(await this.layout.readIndex()).manifests, ...alsoKeep]);
      let blobs = 0;
      let bytes = 0;
      const doomed: Digest[] = [];
      for await (const blob of this.layout.listBlobs()) {
        if (keep.has(blob.digest)) continue;
        doomed.push(blob.digest);
        blobs++;
        bytes += blob.size;
      }
      for (const digest of doomed) await this.layout.removeBlob(digest);
      for (const name of await readdirIfExists(this.tmpDir)) {
        const st = await statIfExists(join(this.tmpDir, name));
        if (st) bytes += st.isFile() ? st.size : 0;
        await rm(join(this.tmpDir, name), { recursive: true, force: true });
      }
      return { blobs, bytes, busy };
    });
  }
}

export interface StoreLease {
  file: string;
  owner?: ProcessIdentity;
  alive: boolean;
}
