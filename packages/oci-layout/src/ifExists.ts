import type { Stats } from 'node:fs';
import { lstat, open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';

/**
 * Reads that expect one error, ENOENT (the thing is not there, or went away
 * meanwhile), and give `missing` for it; any other error (EACCES, EIO,
 * ENOTDIR...) is the caller's to see.
 */
async function unlessMissing<T, M>(read: Promise<T>, missing: M): Promise<T | M> {
  try {
    return await read;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw e;
  }
}

/** The names in `dir`, or none when it does not exist (yet: the store makes its directories on first use). */
export function readdirIfExists(dir: string): Promise<string[]> {
  return unlessMissing(readdir(dir), []);
}

export function lstatIfExists(path: string | Buffer): Promise<Stats | undefined> {
  return unlessMissing(lstat(path), undefined);
}

export function statIfExists(path: string | Buffer): Promise<Stats | undefined> {
  return unlessMissing(stat(path), undefined);
}

export function readTextIfExists(path: string): Promise<string | undefined> {
  return unlessMissing(readFile(path, 'utf8'), undefined);
}

/**
 * The JSON document in the file at `path`, or undefined when there is no file.
 * Text that is not JSON throws what `notJson` makes of the parser's SyntaxError
 * (the caller's typed error, naming what the file was meant to be).
 */
export async function readJsonIfExists(path: string, notJson: (e: SyntaxError) => Error): Promise<unknown> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw notJson(e);
  }
}

/** The file opened for reading, or undefined when it is not there (a log its container's removal took away). */
export function openIfExists(path: string): Promise<FileHandle | undefined> {
  return unlessMissing(open(path, 'r'), undefined);
}
