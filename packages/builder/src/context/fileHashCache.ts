import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What must be unchanged for a remembered hash to still be the file's (git's index uses the same). */
function statKey(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

async function hashFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size <= 1 << 20) return hash.update(await readFile(path)).digest('hex');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Content hashes of context files, remembered by path and stat between
 * builds, so a rebuild of a big context does not read every file again to
 * find that nothing changed. Any write changes ctime, which invalidates.
 */
export class FileHashCache {
  private entries = new Map<string, { key: string; hash: string }>();
  private loaded = false;
  private changed = false;

  constructor(private readonly file: string) {}

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    if (!text) return;
    try {
      const parsed = JSON.parse(text) as Record<string, { key: string; hash: string }>;
      this.entries = new Map(Object.entries(parsed).filter(([, v]) => typeof v?.key === 'string' && typeof v.hash === 'string'));
    } catch {
      // A damaged cache is only a slower build.
    }
  }

  async hash(path: string, st: Stats): Promise<string> {
    await this.load();
    const key = statKey(st);
    const known = this.entries.get(path);
    if (known?.key === key) return known.hash;
    const hash = await hashFile(path, st.size);
    this.entries.set(path, { key, hash });
    this.changed = true;
    return hash;
  }

  async save(): Promise<void> {
    if (!this.changed) return;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.entries)));
    await rename(tmp, this.file);
    this.changed = false;
  }
}
