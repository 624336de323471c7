import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readTextIfExists, type Digest } from '@tsbuild/oci-layout';

/** Repositories remembered per blob; a few are enough to find a mount source. */
const MAX_LOCATIONS = 8;
/** Blobs remembered in all; the least recently seen are forgotten first (about 1.5 MB of JSON at most). */
const DEFAULT_MAX_BLOBS = 10_000;

type Locations = Record<string, string[]>;

/**
 * Which registry repositories are known to hold a blob, kept in a small JSON
 * file across runs, so pushing the same layers to another repository of that
 * registry mounts them instead of uploading them again. The file keeps blobs
 * in the order they were last seen, and only the most recent `maxBlobs`.
 * The file may be named by a promise (a store still opening): only reading
 * and saving wait for it, remembering does not.
 */
export class BlobLocationCache {
  private entries?: Promise<Locations>;
  /** Learnt in this run, per blob, most recent first. */
  private readonly learnt = new Map<string, string[]>();

  constructor(
    private readonly file?: string | Promise<string>,
    private readonly maxBlobs = DEFAULT_MAX_BLOBS,
  ) {}

  /** Loaded once; concurrent callers share the one read. */
  private load(): Promise<Locations> {
    this.entries ??= this.read();
    return this.entries;
  }

  private async read(): Promise<Locations> {
    const entries: Locations = {};
    if (!this.file) return entries;
    let doc: unknown;
    const text = await readTextIfExists(await this.file);
    // A missing or damaged (not JSON) cache only costs an upload.
    if (text === undefined) return entries;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      if (e instanceof SyntaxError) return entries;
      throw e;
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return entries;
    for (const [digest, locations] of Object.entries(doc)) {
      if (Array.isArray(locations)) entries[digest] = locations.filter((l): l is string => typeof l === 'string');
    }
    return entries;
  }

  /** Repositories of `registry` known to hold `digest`, most recent first. */
  async repositoriesWith(digest: Digest, registry: string): Promise<string[]> {
    const entries = await this.load();
    const known = [...new Set([...(this.learnt.get(digest) ?? []), ...(entries[digest] ?? [])])];
    return known.filter((l) => l.startsWith(`${registry}/`)).map((l) => l.slice(registry.length + 1));
  }

  async remember(digest: Digest, registry: string, repository: string): Promise<void> {
    const location = `${registry}/${repository}`;
    this.learnt.set(digest, [location, ...(this.learnt.get(digest) ?? []).filter((l) => l !== location)].slice(0, MAX_LOCATIONS));
  }

  /** Writes what was learnt, merged over what the file held when read and what other processes wrote meanwhile. */
  async save(): Promise<void> {
    if (!this.file || this.learnt.size === 0) return;
    const loaded = this.entries ? await this.entries : {};
    const current = await this.read();
    for (const [digest, mine] of this.learnt) {
      const merged = [...new Set([...mine, ...(loaded[digest] ?? []), ...(current[digest] ?? [])])].slice(0, MAX_LOCATIONS);
      // Re-inserted, so the key order stays least recently seen first.
      delete current[digest];
      current[digest] = merged;
    }
    const digests = Object.keys(current);
    for (const stale of digests.slice(0, Math.max(0, digests.length - this.maxBlobs))) delete current[stale];
    const file = await this.file;
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(current));
    await rename(tmp, file);
    this.learnt.clear();
  }
}
