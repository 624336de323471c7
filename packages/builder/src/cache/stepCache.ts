import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidDigestError, lstatIfExists, parseDigest, readdirIfExists, readTextIfExists, withNoSpacePath, type Descriptor, type Digest, type LocalStore, type OciLayout } from '@tsbuild/oci-layout';

/** What a finished step left: its history time and, for a layer step, the layer. */
export interface CachedStep {
  created: string;
  layer?: { descriptor: Descriptor; diffId: Digest };
}

/** A cache key: the hash of the previous step's key and this step's full description. */
export function stepKey(previous: string, description: unknown): string {
  return createHash('sha256').update(previous).update('\0').update(JSON.stringify(description)).digest('hex');
}

function parseEntry(text: string): CachedStep | undefined {
  try {
    const value = JSON.parse(text) as { created?: unknown; layer?: { descriptor?: { mediaType?: unknown; digest?: unknown; size?: unknown }; diffId?: unknown } } | null;
    if (typeof value?.created !== 'string') return undefined;
    if (!value.layer) return { created: value.created };
    const d = value.layer.descriptor;
    if (typeof d?.mediaType !== 'string' || typeof d.size !== 'number') return undefined;
    return { created: value.created, layer: { descriptor: { mediaType: d.mediaType, digest: parseDigest(d.digest), size: d.size }, diffId: parseDigest(value.layer.diffId) } };
  } catch (e) {
    // An entry in another format (an older tsbuild's, a hand edit) is a cache miss.
    if (e instanceof SyntaxError || e instanceof InvalidDigestError) return undefined;
    throw e;
  }
}

/**
 * The build cache: one small file per step key under `<store>/cache/steps`.
 * A hit is only a hit while the layer blob it names is still in the store.
 */
export class StepCache {
  private readonly dir: string;
  private readonly layout: OciLayout;

  constructor(store: LocalStore) {
    this.dir = join(store.cacheDir, 'steps');
    this.layout = store.layout;
  }

  /** The entry of `key`, if its layer is still in the store; a hit marks it used now (the entry's mtime: its last use, for prune). */
  async get(key: string): Promise<CachedStep | undefined> {
    const entry = await this.read(key);
    if (entry) await utimes(join(this.dir, key), new Date(), new Date()).catch(ignoreRemoved);
    return entry;
  }

  private async read(key: string): Promise<CachedStep | undefined> {
    const text = await readTextIfExists(join(this.dir, key));
    const entry = text === undefined ? undefined : parseEntry(text);
    if (entry?.layer && !(await this.layout.hasBlob(entry.layer.descriptor.digest))) return undefined;
    return entry;
  }

  /** Every live entry with its last use and the bytes its file takes, for `prune --cache`. */
  async *entries(): AsyncGenerator<{ key: string; lastUsed: number; bytes: number; step: CachedStep }> {
    for (const key of await readdirIfExists(this.dir)) {
      if (key.startsWith('.')) continue;
      const [st, step] = [await lstatIfExists(join(this.dir, key)), await this.read(key)];
      if (st && step) yield { key, lastUsed: st.mtimeMs, bytes: st.size, step };
    }
  }

  async remove(key: string): Promise<void> {
    await rm(join(this.dir, key), { force: true });
  }

  async put(key: string, value: CachedStep): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${key}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(tmp, JSON.stringify(value));
      await rename(tmp, join(this.dir, key));
    } catch (e) {
      throw withNoSpacePath(e, tmp);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Removes entries whose layer is gone (after blobs were pruned); returns how many. */
  async prune(): Promise<number> {
    let removed = 0;
    for (const name of await readdirIfExists(this.dir)) {
      if (await this.read(name)) continue;
      await rm(join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }
}

/** ENOENT: a prune removed the entry between the read and the touch; the hit stands. */
function ignoreRemoved(e: NodeJS.ErrnoException): void {
  if (e.code !== 'ENOENT') throw e;
}
