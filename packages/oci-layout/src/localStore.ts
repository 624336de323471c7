import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Digest } from './digest.js';
import type { Image } from './image.js';
import { normalizeImageName } from './imageName.js';
import { OciLayout, REF_NAME_ANNOTATION } from './ociLayout.js';
import { processAlive } from './fileLock.js';
import type { Descriptor, Platform } from './schema.js';

/** `--root DIR`, else `$TSBUILD_ROOT`, else `${XDG_DATA_HOME:-~/.local/share}/tsbuild`. */
export function storeRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.TSBUILD_ROOT) return resolve(env.TSBUILD_ROOT);
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'tsbuild');
}

export interface StoredImage {
  name: string;
  descriptor: Descriptor;
}

export class ImageNotFoundError extends Error {}

/**
 * The embedded default store: `<root>/oci` is a plain OCI image layout whose
 * index.json names every image by its fully qualified reference, so skopeo
 * and umoci read it as `oci:<root>/oci:localhost/hello:latest`. Temp files,
 * cache and leases live beside it, never inside `blobs/`.
 */
export class LocalStore {
  private constructor(
    readonly root: string,
    readonly layout: OciLayout,
  ) {}

  static async open(root: string): Promise<LocalStore> {
    await mkdir(root, { recursive: true });
    const layout = await OciLayout.open(join(root, 'oci'), { create: true, tmpDir: join(root, 'tmp') });
    return new LocalStore(root, layout);
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  get cacheDir(): string {
    return join(this.root, 'cache');
  }

  private get leaseDir(): string {
    return join(this.root, 'leases');
  }

  async list(): Promise<StoredImage[]> {
    const index = await this.layout.readIndex();
    return index.manifests
      .filter((d) => d.annotations?.[REF_NAME_ANNOTATION])
      .map((d) => ({ name: d.annotations![REF_NAME_ANNOTATION]!, descriptor: d }));
  }

  /**
   * Finds an image by name (normalised: `hello` means `localhost/hello:latest`),
   * by full manifest digest, or by a unique digest prefix of at least 4 hex
   * characters, as `docker images` IDs are used.
   */
  async resolve(ref: string): Promise<StoredImage> {
    const images = await this.list();
    const hexPrefix = ref.replace(/^sha256:/, '');
    if (/^[0-9a-f]{4,64}$/.test(hexPrefix)) {
      const byDigest = images.filter((i) => i.descriptor.digest.slice('sha256:'.length).startsWith(hexPrefix));
      const distinct = new Set(byDigest.map((i) => i.descriptor.digest));
      if (distinct.size === 1) return byDigest[0]!;
      if (distinct.size > 1) throw new ImageNotFoundError(`image ID prefix "${ref}" is ambiguous`);
    }
    let name: string;
    try {
      name = normalizeImageName(ref);
    } catch (e) {
      throw new ImageNotFoundError((e as Error).message);
    }
    const found = images.find((i) => i.name === name);
    if (!found) throw new ImageNotFoundError(`image "${ref}" not found in the store ${this.root} (looked for ${name})`);
    return found;
  }

  async readImage(ref: string, platform?: Platform): Promise<Image> {
    return this.layout.readImage((await this.resolve(ref)).descriptor, platform);
  }

  /** Points each name at `descriptor`, replacing what those names pointed at before. */
  async tag(descriptor: Descriptor, names: string[]): Promise<string[]> {
    const full = names.map((n) => normalizeImageName(n));
    await this.layout.updateIndex((index) => ({
      ...index,
      manifests: [
        ...index.manifests.filter((d) => !full.includes(d.annotations?.[REF_NAME_ANNOTATION] ?? '')),
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

  /** Removes one name; blobs stay until `prune`. */
  async untag(ref: string): Promise<StoredImage> {
    const image = await this.resolve(ref);
    await this.layout.updateIndex((index) => ({
      ...index,
      manifests: index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] !== image.name),
    }));
    return image;
  }

  /**
   * Marks a write in progress: blobs written after a live lease began are
   * not garbage yet even though no index entry names them so far.
   */
  async lease<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.leaseDir, { recursive: true });
    const file = join(this.leaseDir, `${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(file, '');
    try {
      return await fn();
    } finally {
      await rm(file, { force: true });
    }
  }

  private async oldestLiveLease(): Promise<number> {
    let oldest = Number.POSITIVE_INFINITY;
    for (const name of await readdir(this.leaseDir).catch(() => [] as string[])) {
      const file = join(this.leaseDir, name);
      const pid = Number.parseInt(name, 10);
      if (!processAlive(pid)) {
        await rm(file, { force: true });
        continue;
      }
      const st = await stat(file).catch(() => undefined);
      if (st) oldest = Math.min(oldest, st.mtimeMs);
    }
    return oldest;
  }

  /**
   * Deletes blobs no named image reaches, plus leftovers of killed writers in
   * tmp/. `alsoKeep` are further roots (the images containers run).
   */
  async prune(alsoKeep: Descriptor[] = []): Promise<{ blobs: number; bytes: number }> {
    const roots = [...(await this.layout.readIndex()).manifests, ...alsoKeep];
    const keep = await this.layout.reachable(roots);
    const cutoff = await this.oldestLiveLease();
    let blobs = 0;
    let bytes = 0;
    const doomed: Digest[] = [];
    for await (const blob of this.layout.listBlobs()) {
      if (keep.has(blob.digest) || blob.mtimeMs >= cutoff - 1000) continue;
      doomed.push(blob.digest);
      blobs++;
      bytes += blob.size;
    }
    for (const digest of doomed) await this.layout.removeBlob(digest);
    if (cutoff === Number.POSITIVE_INFINITY) {
      for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
        const st = await stat(join(this.tmpDir, name)).catch(() => undefined);
        if (st) bytes += st.isFile() ? st.size : 0;
        await rm(join(this.tmpDir, name), { recursive: true, force: true });
      }
    }
    return { blobs, bytes };
  }
}
