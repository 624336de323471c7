import type { Readable } from 'node:stream';

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'character-device' | 'block-device' | 'fifo';

/**
 * One filesystem object of a layer, independent of tar. `path` is relative to
 * the root, without a leading `/` or `./`, never empty, using `/` separators
 * (e.g. `etc/passwd`). Whiteouts are not entries: see `LayerChange`.
 */
export interface EntryHeader {
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777 mask). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractional allowed). */
  mtime: number;
  /** Byte size for regular files (a sparse file's logical size, holes included), 0 otherwise. */
  size: number;
  /**
   * A sparse file: the regions that hold data, in ascending order and not
   * overlapping; the rest up to `size` is holes (zeros). `content` then yields
   * only these regions' bytes, one after another, so reading a sparse file
   * costs its data, not its logical size.
   */
  sparse?: SparseRegion[];
  /** Symlink target (as stored) or, for hard links, the root-relative path of the link's target. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, e.g. `security.capability`, values as raw bytes. */
  xattrs?: Record<string, Buffer>;
}

/** Part of a sparse file that holds data. */
export interface SparseRegion {
  offset: number;
  length: number;
}

/** A layer entry as produced by a reader or consumed by a writer. */
export interface LayerEntry extends EntryHeader {
  /**
   * Content of a regular file. Readers set `content` (consume or resume it
   * before asking for the next entry); writers also accept `open`, so a sorted
   * list of entries can be held without an open file per entry.
   */
  content?: Readable;
  open?: () => Readable | Promise<Readable>;
  /**
   * The whole content at once, which writers prefer to `open` for small
   * files: for a tree of many small files a stream per file costs more than
   * the bytes.
   */
  read?: () => Buffer | Promise<Buffer>;
}

/**
 * What a layer does to the filesystem below it: add or replace an entry,
 * delete a path (`.wh.NAME`), or make a directory opaque (`.wh..wh..opq`:
 * hide everything the lower layers had below `path`).
 */
export type LayerChange =
  | { kind: 'entry'; entry: LayerEntry }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string };
