import type { EntryHeader, EntryType } from '@tsbuild/oci-layout';
import { column, grown } from './columns.js';
import { fileInfoOf, type FileInfo } from './fileInfo.js';

const TYPES: readonly EntryType[] = ['file', 'directory', 'symlink', 'hardlink', 'character-device', 'block-device', 'fifo'];
const TYPE_CODE = Object.fromEntries(TYPES.map((t, i) => [t, i])) as Record<EntryType, number>;
const FILE = TYPE_CODE.file;
const DIRECTORY = TYPE_CODE.directory;

/** Owner ids that do not fit 32 bits (tar's base-256 numbers allow them): kept aside, the columns hold 0. */
interface WideOwner {
  uid: number;
  gid: number;
}

const fits32 = (n: number) => n >>> 0 === n;

/**
 * FileInfo records of a tree's nodes, by node id, in typed columns: about 30
 * bytes a node where an object with its hash string is over 100. A regular
 * file's hash token (8 latin1 characters) is kept as two 32-bit words; link
 * targets, which few nodes have, in a map.
 */
export class FileColumns {
  private type = column(Uint8Array);
  private size = column(Float64Array);
  private mode = column(Uint32Array);
  private uid = column(Uint32Array);
  private gid = column(Uint32Array);
  private hash = column(Uint32Array);
  private readonly linkname = new Map<number, string>();
  private readonly wide = new Map<number, WideOwner>();

  grow(capacity: number): void {
    this.type = grown(this.type, capacity);
    this.size = grown(this.size, capacity);
    this.mode = grown(this.mode, capacity);
    this.uid = grown(this.uid, capacity);
    this.gid = grown(this.gid, capacity);
    this.hash = grown(this.hash, capacity * 2);
  }

  /** Records an entry's attributes (with its content's hash token, for a regular file). */
  setEntry(id: number, entry: EntryHeader, hash?: string): void {
    this.type[id] = TYPE_CODE[entry.type];
    this.size[id] = entry.size;
    this.mode[id] = entry.mode;
    this.setOwner(id, entry.uid, entry.gid);
    if (hash !== undefined) {
      this.hash[id * 2] = word(hash, 0);
      this.hash[id * 2 + 1] = word(hash, 4);
    }
    this.setLinkname(id, entry.linkname);
  }

  /** dive's comparison of two records (see `sameFile`). */
  same(id: number, other: FileColumns, otherId: number): boolean {
    const type = this.type[id];
    return (
      type === other.type[otherId] &&
      (type !== FILE || (this.hash[id * 2] === other.hash[otherId * 2] && this.hash[id * 2 + 1] === other.hash[otherId * 2 + 1])) &&
      this.mode[id] === other.mode[otherId] &&
      this.uidOf(id) === other.uidOf(otherId) &&
      this.gidOf(id) === other.gidOf(otherId) &&
      (this.linkname.get(id) ?? '') === (other.linkname.get(otherId) ?? '')
    );
  }

  isDirectory(id: number): boolean {
    return this.type[id] === DIRECTORY;
  }

  sizeOf(id: number): number {
    return this.size[id]!;
  }

  /** A regular file's size; 0 for anything else. */
  fileBytes(id: number): number {
    return this.type[id] === FILE ? this.size[id]! : 0;
  }

  /** The record as a FileInfo object, made on demand (the same shapes `fileInfoOf` makes). */
  info(id: number): FileInfo {
    const type = TYPES[this.type[id]!]!;
    const entry = { type, size: this.size[id]!, mode: this.mode[id]!, uid: this.uidOf(id), gid: this.gidOf(id), linkname: this.linkname.get(id) };
    if (type !== 'file') return fileInfoOf(entry as EntryHeader);
    const h1 = this.hash[id * 2]!;
    const h2 = this.hash[id * 2 + 1]!;
    const hash = String.fromCharCode(h1 & 255, (h1 >>> 8) & 255, (h1 >>> 16) & 255, h1 >>> 24, h2 & 255, (h2 >>> 8) & 255, (h2 >>> 16) & 255, h2 >>> 24);
    return fileInfoOf(entry as EntryHeader, hash);
  }

  private uidOf(id: number): number {
    return this.wide.size > 0 ? (this.wide.get(id)?.uid ?? this.uid[id]!) : this.uid[id]!;
  }

  private gidOf(id: number): number {
    return this.wide.size > 0 ? (this.wide.get(id)?.gid ?? this.gid[id]!) : this.gid[id]!;
  }

  private setOwner(id: number, uid: number, gid: number): void {
    if (this.wide.size > 0) this.wide.delete(id);
    if (fits32(uid) && fits32(gid)) {
      this.uid[id] = uid;
      this.gid[id] = gid;
    } else {
      this.uid[id] = 0;
      this.gid[id] = 0;
      this.wide.set(id, { uid, gid });
    }
  }

  private setLinkname(id: number, linkname: string | undefined): void {
    if (linkname === undefined) this.linkname.delete(id);
    else this.linkname.set(id, linkname);
  }
}

/** Four latin1 characters of a hash token as one 32-bit word. */
function word(token: string, at: number): number {
  return (token.charCodeAt(at) | (token.charCodeAt(at + 1) << 8) | (token.charCodeAt(at + 2) << 16) | (token.charCodeAt(at + 3) << 24)) >>> 0;
}
