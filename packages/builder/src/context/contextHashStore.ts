import { createHash, hash as hashOnce, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  awaitedElsewhere, checksummedLinesText, encodeChecksummedLine, fsPath, parseChecksummedLine, type EntryStats,
} from '@tsbuild/oci-layout';
import { readSmallFile, SMALL_FILE_MAX } from './readSmallFile.js';

/**
 * A hash is trusted only for a file whose last change (mtime, ctime) lies
 * this far before its content was read. Timestamps come from the kernel's
 * coarse clock (one tick late) or whole seconds on some filesystems (two on
 * FAT): a write in the same tick as the remembered one would leave the stat
 * unchanged (git's "racily clean" entries). Such a file is hashed again on
 * the next build, which then remembers a trustworthy record.
 */
const RACY_WINDOW_MS = 2000;

/**
 * Whether a path whose status last changed at `ctimeMs` may have changed at
 * or after `at` (wall-clock ms), allowing for the same coarse or whole-second
 * timestamps as the racy window.
 */
export function changedSince(ctimeMs: number, at: number): boolean {
  return ctimeMs + RACY_WINDOW_MS > at;
}

/** Superseded records a segment may carry beyond its live ones before it is rewritten. */
const COMPACT_SLACK = 64;

const HEADER = 'tsbuild-context-hashes-v1';

/**
 * A file's record: what must be unchanged for a remembered hash to still be
 * the file's (git's index uses the same), the hash, and the wall-clock ms just
 * before the content was read. Kept as the array it is stored as.
 */
type RecordFields = [name: string, dev: number, ino: number, size: number, mtimeMs: number, ctimeMs: number, mode: number, readAt: number, hash: string];

function isRecordFields(fields: unknown): fields is RecordFields {
  if (!Array.isArray(fields) || fields.length !== 9 || typeof fields[0] !== 'string' || typeof fields[8] !== 'string') return false;
  for (let i = 1; i < 8; i++) if (typeof fields[i] !== 'number') return false;
  return true;
}

/**
 * The records of a segment line: a line holds one block of records (an array
 * of them, as a save writes it: one checksum and one JSON.parse for the lot),
 * or a single record (as tsbuild wrote them before blocks).
 */
function lineRecords(value: unknown[]): RecordFields[] {
  if (isRecordFields(value)) return [value];
  return value.filter(isRecordFields);
}

function sameStat(record: RecordFields, st: EntryStats): boolean {
  return record[2] === st.ino && record[3] === st.size && record[4] === st.mtimeMs
    && record[5] === st.ctimeMs && record[6] === st.mode && record[1] === st.dev;
}

/** The content hash of a file's bytes, as the store remembers it. */
export function contentHash(content: Buffer): string {
  // One call, not a Hash object per file: a cold context is mostly small files.
  return hashOnce('sha256', content, 'hex');
}

async function hashContent(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size <= SMALL_FILE_MAX) return hash.update(readSmallFile(path, size)).digest('hex');
  for await (const chunk of createReadStream(fsPath(path), { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * The remembered hashes of one context directory's files: a segment file of
 * checksummed blocks of records, one appended per build, read when the build
 * reaches that directory and dropped after, so memory follows one directory,
 * not the tree.
 */
export class DirectoryHashes {
  private readonly pending: RecordFields[] = [];

  constructor(
    private readonly dir: string,
    private readonly segment: string,
    private readonly known: Map<string, RecordFields>,
    /** Records and damaged lines in the file, superseded ones included: what a rewrite would drop. */
    private readonly stored: number,
    /** The file ends in a partial line (a write was cut short): appending would glue onto it. */
    private readonly torn: boolean,
  ) {}

  /** The remembered hash of `name` (a regular file whose lstat is `st`), if a trustworthy record matches its stat. */
  remembered(name: string, st: EntryStats): string | undefined {
    const record = this.known.get(name);
    if (record && sameStat(record, st) && Math.max(record[4], record[5]) + RACY_WINDOW_MS <= record[7]) return record[8];
    return undefined;
  }

  /** The content hash of `name`: remembered, or read now and remembered. */
  async hash(name: string, st: EntryStats): Promise<string> {
    const known = this.remembered(name, st);
    if (known !== undefined) return known;
    const readAt = Date.now();
    return this.remember(name, st, readAt, await hashContent(join(this.dir, name), st.size));
  }

  /** Whether any file of the directory has a record (a context seen before), trustworthy or not. */
  get empty(): boolean {
    return this.known.size === 0;
  }

  /** `hash` as the content of `name` (lstat `st`), read no earlier than `readAt`. */
  remember(name: string, st: EntryStats, readAt: number, hash: string): string {
    const record: RecordFields = [name, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, st.mode, readAt, hash];
    this.known.set(name, record);
    this.pending.push(record);
    return hash;
  }

  /** Writes what this build learned: appended as one block, or the segment rewritten when it is mostly superseded or torn. */
  async save(): Promise<void> {
    if (this.pending.length === 0) return;
    const total = this.stored + this.pending.length;
    if (!this.torn && this.stored > 0 && total - this.known.size <= this.known.size + COMPACT_SLACK) {
      await appendFile(this.segment, checksummedLinesText([encodeChecksummedLine(this.pending)]));
    } else {
      await this.rewrite();
    }
    this.pending.length = 0;
  }

  /** A whole new segment, renamed into place: a crash leaves either the old one or the new one. */
  private async rewrite(): Promise<void> {
    const parts = [encodeChecksummedLine([HEADER, this.dir]), encodeChecksummedLine([...this.known.values()])];
    const tmp = `${this.segment}.${randomBytes(4).toString('hex')}.tmp`;
    const text = checksummedLinesText(parts);
    try {
      await writeFile(tmp, text);
    } catch (err) {
      // The fan's first segment makes it: a lookup of a directory never seen costs no mkdir.
      if (!isNotFound(err)) throw err;
      await mkdir(dirname(tmp), { recursive: true });
      await writeFile(tmp, text);
    }
    await rename(tmp, this.segment);
  }
}

/**
 * Content hashes of context files, remembered by stat between builds, so a
 * rebuild of a big context only stats to find that nothing changed, and a
 * change costs reading the changed files only. One segment per context
 * directory under `root` (fanned out by the hash of its path).
 */
export class ContextHashStore {
  private prepared?: Promise<void>;

  constructor(
    private readonly root: string,
    /** The whole-file JSON memory this store replaces; removed on first use. */
    private readonly legacyFile?: string,
  ) {}

  private segmentPath(dir: string): string {
    const id = createHash('sha256').update(fsPath(dir)).digest('hex');
    return join(this.root, id.slice(0, 2), id.slice(2, 40));
  }

  /** The remembered hashes of the files directly in `dir` (an absolute path). */
  async directory(dir: string): Promise<DirectoryHashes> {
    this.prepared ??= this.legacyFile ? rm(this.legacyFile, { force: true }) : Promise.resolve();
    await this.prepared;
    const file = this.segmentPath(dir);
    let text: string;
    try {
      // Synchronously: a promise read is four round trips through the thread pool (open, fstat, read,
      // close), which cost the main thread more than the read of a segment in the page cache.
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return new DirectoryHashes(dir, file, new Map(), 0, false);
    }
    const lines = text.split('\n');
    const torn = lines.pop() !== '';
    const known = new Map<string, RecordFields>();
    const header = lines.length > 0 ? parseChecksummedLine(lines[0]!) : undefined;
    // A segment of another directory (a 160-bit collision) or a damaged header: start over.
    if (header?.[0] !== HEADER || header[1] !== dir) return new DirectoryHashes(dir, file, known, 0, true);
    let stored = 0;
    for (let i = 1; i < lines.length; i++) {
      const value = parseChecksummedLine(lines[i]!);
      const records = value ? lineRecords(value) : [];
      stored += Math.max(1, records.length);
      for (const record of records) known.set(record[0], record);
    }
    return new DirectoryHashes(dir, file, known, stored, torn);
  }
}

/**
 * Hashes learned from file contents read for another purpose (a COPY layer
 * being written): each directory's records are saved once all its files
 * have been read, a directory at a time, so memory follows the directories
 * being read, not the tree. Files the store already remembers are not hashed.
 */
export class HashLearning {
  /** Each directory's save: segments are files of their own, saved side by side. */
  private readonly saves: Promise<void>[] = [];

  constructor(private readonly store: ContextHashStore) {}

  /**
   * Starts learning `dir` (an absolute path), whose `files` small files are
   * read no earlier than `readAt`: the returned function takes each one's
   * name, lstat, content, ctime after the read and content hash as it is
   * read, and gives that hash (undefined for content that is not the lstat's size). A file
   * whose ctime moved since its lstat is hashed, not remembered: its bytes may
   * be another content's than the lstat's. A file that is never read (its
   * entry replaced by a later source) leaves the directory unsaved.
   */
  directory(dir: string, readAt: number, files: number): (name: string, st: EntryStats, content: Buffer, ctimeMs: number, hash: string) => string | undefined {
    let known: DirectoryHashes | undefined;
    /** Hashes of files read before the segment was in. */
    const early: { name: string; st: EntryStats; hash: string }[] = [];
    const loading = awaitedElsewhere(this.store.directory(dir).then((hashes) => {
      for (const { name, st, hash } of early.splice(0)) if (hashes.remembered(name, st) === undefined) hashes.remember(name, st, readAt, hash);
      known = hashes;
      return hashes;
    }));
    let left = files;
    return (name, st, content, ctimeMs, hash) => {
      // A file that changed size since its lstat fails the layer; its content is not the lstat's.
      const whole = content.length === st.size;
      if (whole && ctimeMs === st.ctimeMs) {
        if (!known) early.push({ name, st, hash });
        else if (known.remembered(name, st) === undefined) known.remember(name, st, readAt, hash);
      }
      if (--left === 0) this.saves.push(awaitedElsewhere(loading.then((hashes) => hashes.save())));
      return whole ? hash : undefined;
    };
  }

  /** Once every directory learned so far is saved; the first error saving one. */
  async settled(): Promise<void> {
    await Promise.all(this.saves);
  }
}
