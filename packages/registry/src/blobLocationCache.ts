import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Digest } from '@tsbuild/oci-layout';

/** Repositories remembered per blob; a few are enough to find a mount source. */
const MAX_LOCATIONS = 8;

/**
 * Which registry repositories are known to hold a blob, kept in a small JSON
 * file across runs, so pushing the same layers to another repository of that
 * registry mounts them instead of uploading them again.
 */
export class BlobLocationCache {
  private entries?: Promise<Record<string, string[]>>;
  private dirty = false;

  constructor(private readonly file?: string) {}

  /** Loaded once; concurrent callers share the one read. */
  private load(): Promise<Record<string, string[]>> {
    this.entries ??= this.read();
    return this.entries;
  }

  private async read(): Promise<Record<string, string[]>> {
    if (!this.file) return {};
    try {
      const doc = JSON.parse(await readFile(this.file, 'utf8')) as unknown;
      if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, string[]>;
    } catch {
      // a missing or damaged cache only costs an upload
    }
    return {};
  }

  /** Repositories of `registry` known to hold `digest`, most recent first. */
  async repositoriesWith(digest: Digest, registry: string): Promise<string[]> {
    const entries = await this.load();
    return (entries[digest] ?? []).filter((l) => l.startsWith(`${registry}/`)).map((l) => l.slice(registry.length + 1));
  }

  async remember(digest: Digest, registry: string, repository: string): Promise<void> {
    const entries = await this.load();
    const location = `${registry}/${repository}`;
    entries[digest] = [location, ...(entries[digest] ?? []).filter((l) => l !== location)].slice(0, MAX_LOCATIONS);
    this.dirty = true;
  }

  /** Writes what was learnt, merged over what other processes wrote meanwhile. */
  async save(): Promise<void> {
    if (!this.file || !this.dirty || !this.entries) return;
    const mine = await this.entries;
    const current = await this.read();
    for (const [digest, locations] of Object.entries(mine)) {
      current[digest] = [...new Set([...locations, ...(current[digest] ?? [])])].slice(0, MAX_LOCATIONS);
    }
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(current));
    await rename(tmp, this.file);
    this.dirty = false;
  }
}
