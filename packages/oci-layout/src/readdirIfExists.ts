import { readdir } from 'node:fs/promises';

/** The names in `dir`, or none when it does not exist (yet: the store makes its directories on first use). */
export async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
