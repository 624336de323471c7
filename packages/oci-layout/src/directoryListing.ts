import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { decodeName, encodeName, fsPath, hasEscapedBytes } from './byteNames.js';
import { fsNative } from './fsNative.js';

/**
 * What a walk needs of an entry's lstat. Node's `Stats` is one; a listing
 * makes its own, as one native call per directory rather than a stat call per
 * entry (on a tree of small files Node spends more per call than the kernel).
 */
export type EntryStats = Pick<Stats,
  'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeMs' | 'ctimeMs'
  | 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO' | 'isSocket'>;

/** Per entry, the native listing's numbers in this order (fsnative.c, ListDirectory). */
const enum Field { Dev, Ino, Mode, Nlink, Uid, Gid, Rdev, Size, MtimeS, MtimeNs, CtimeS, CtimeNs, Count }

/** Milliseconds from seconds and nanoseconds, computed as Node computes `Stats.mtimeMs`, so both give the same number. */
function milliseconds(seconds: number, nanoseconds: number): number {
  return seconds * 1000 + nanoseconds / 1_000_000;
}

/** An entry's lstat read from its listing's numbers when asked: a walk of an unchanged tree asks few of them per entry. */
class ListedStats implements EntryStats {
  constructor(private readonly fields: Float64Array, private readonly at: number) {}

  get dev(): number {
    return this.fields[this.at + Field.Dev]!;
  }

  get ino(): number {
    return this.fields[this.at + Field.Ino]!;
  }

  get mode(): number {
    return this.fields[this.at + Field.Mode]!;
  }

  get nlink(): number {
    return this.fields[this.at + Field.Nlink]!;
  }

  get uid(): number {
    return this.fields[this.at + Field.Uid]!;
  }

  get gid(): number {
    return this.fields[this.at + Field.Gid]!;
  }

  get rdev(): number {
    return this.fields[this.at + Field.Rdev]!;
  }

  get size(): number {
    return this.fields[this.at + Field.Size]!;
  }

  get mtimeMs(): number {
    return milliseconds(this.fields[this.at + Field.MtimeS]!, this.fields[this.at + Field.MtimeNs]!);
  }

  get ctimeMs(): number {
    return milliseconds(this.fields[this.at + Field.CtimeS]!, this.fields[this.at + Field.CtimeNs]!);
  }

  private type(): number {
    return this.mode & constants.S_IFMT;
  }

  isFile(): boolean {
    return this.type() === constants.S_IFREG;
  }

  isDirectory(): boolean {
    return this.type() === constants.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return this.type() === constants.S_IFLNK;
  }

  isCharacterDevice(): boolean {
    return this.type() === constants.S_IFCHR;
  }

  isBlockDevice(): boolean {
    return this.type() === constants.S_IFBLK;
  }

  isFIFO(): boolean {
    return this.type() === constants.S_IFIFO;
  }

  isSocket(): boolean {
    return this.type() === constants.S_IFSOCK;
  }
}

/** A directory's entry and its lstat, as a listing gives them. */
export interface ListedEntryStats {
  name: string;
  stats: EntryStats;
}

/**
 * A directory's entries (readdir order) with their lstat, symlinks not
 * followed. Errors are Node-shaped (`code`, `syscall`, `path`). Names and
 * `dir` carry bytes that are not UTF-8 as byteNames.ts does.
 */
export function listDirectoryStats(dir: string): ListedEntryStats[] {
  return new DirectoryListing(...fsNative().listDirectory(fsPath(dir))).entries();
}

/** listDirectoryStats as one DirectoryListing, not an object per entry. */
export function readDirectoryListing(dir: string): DirectoryListing {
  return new DirectoryListing(...fsNative().listDirectory(fsPath(dir)));
}

/**
 * listDirectoryStats on libuv's thread pool: the kernel's work for a big
 * directory (a getdents and an lstat per entry) overlaps what the main thread does meanwhile.
 */
export async function listDirectoryAsync(dir: string): Promise<DirectoryListing> {
  return new DirectoryListing(...(await fsNative().listDirectoryAsync(fsPath(dir))));
}

/** A directory's listing as the native call gives it: about 100 bytes an entry until `entries` makes objects of them. */
export class DirectoryListing {
  constructor(
    /** One string of NUL-ended names (one JS string from the native side, not one per entry), or an array where some are bytes. */
    private readonly names: string | (string | Buffer)[],
    private readonly fields: Float64Array,
  ) {}

  get length(): number {
    return this.fields.length / Field.Count;
  }

  /**
   * A digest of every name and lstat number, in readdir order: two listings
   * of a directory with the same one list the same entries in the same
   * status (size, times to the nanosecond, inode), at the cost of one hash
   * of the listing's bytes rather than the listing kept.
   */
  fingerprint(): string {
    const digest = createHash('sha256');
    if (typeof this.names === 'string') digest.update(this.names);
    else for (const name of this.names) digest.update(name).update('\0');
    return digest.update(new Uint8Array(this.fields.buffer, this.fields.byteOffset, this.fields.byteLength)).digest('hex');
  }

  /** The entries, as listDirectoryStats gives them (new objects on each call). */
  entries(): ListedEntryStats[] {
    const names = typeof this.names === 'string' ? this.names.split('\0') : this.names;
    const entries = new Array<ListedEntryStats>(this.length);
    for (let i = 0; i < entries.length; i++) {
      const name = names[i]!;
      entries[i] = { name: typeof name === 'string' ? name : decodeName(name), stats: new ListedStats(this.fields, i * Field.Count) };
    }
    return entries;
  }
}

/**
 * Reads the file at `path`, never through a symlink, into `buffer` from its
 * start; returns the bytes read. It stops when the buffer is full, the file
 * ends, or a read comes short one byte before the buffer's end: callers ask
 * one byte more than a file's lstat size to see it grown, and a regular file
 * reads short only at its end. One native call instead of four Node fs calls.
 */
export function readFileInto(path: string, buffer: Buffer): number {
  return fsNative().readFile(fsPath(path), buffer);
}

/** What `readSmallFiles` read: per file its bytes or the error reading it, and its ctime after the read (ms, as `Stats.ctimeMs`). */
export interface SmallFileReads {
  contents: (Buffer | NodeJS.ErrnoException)[];
  ctimesMs: Float64Array;
  /** Each file's SHA-256 as hex (empty where the read failed), when asked for. */
  sha256?: string[];
}

/**
 * Reads many small files of one directory at once on libuv's thread pool
 * (one job, one buffer, one directory descriptor), each as `readFileInto`
 * reads one into a buffer of `sizes[i] + 1` bytes: each file's bytes, or the
 * error reading it (Node-shaped), in order, and its ctime after the read (a
 * status changed since a listing means the bytes may not be the listed
 * file's). With `sha256`, each file is hashed there too, while its bytes are
 * in the cache. The main thread goes on meanwhile.
 */
export async function readSmallFiles(dir: string, names: string[], sizes: number[], { sha256 = false } = {}): Promise<SmallFileReads> {
  // Plain loops: these run once per file of a tree of small files.
  const lengths = new Float64Array(sizes.length);
  for (let i = 0; i < sizes.length; i++) lengths[i] = sizes[i]! + 1;
  const joined = `${names.join('\0')}\0`;
  const [buffer, results, ctimes, digests] = await fsNative().readFiles(fsPath(dir), hasEscapedBytes(joined) ? encodeName(joined) : joined, lengths, sha256);
  const contents = new Array<Buffer | NodeJS.ErrnoException>(names.length);
  const ctimesMs = new Float64Array(names.length);
  const hashes = digests && new Array<string>(names.length);
  for (let i = 0, slot = 0; i < names.length; slot += lengths[i]!, i++) {
    const result = results[i]!;
    contents[i] = result >= 0 ? buffer.subarray(slot, slot + result) : readError(`${dir}/${names[i]}`, result);
    ctimesMs[i] = milliseconds(ctimes[2 * i]!, ctimes[2 * i + 1]!);
    if (hashes) hashes[i] = result >= 0 ? digests!.toString('hex', 32 * i, 32 * i + 32) : '';
  }
  return hashes ? { contents, ctimesMs, sha256: hashes } : { contents, ctimesMs };
}

function readError(path: string, errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${code}: cannot read, open '${path}'`), { code, errno, syscall: 'open', path });
}
