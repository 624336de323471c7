import { createHash, hash as oneShotHash, type Hash } from 'node:crypto';
import type { EntryHeader, EntryType, SparseRegion } from '@tsbuild/oci-layout';

/** What the analysis keeps of one filesystem object: enough to compare it across layers, never its bytes. */
export interface FileInfo {
  type: EntryType;
  /** Bytes of content (a sparse file's logical size, holes included, as dive shows it): 0 for anything but regular files. */
  size: number;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  /**
   * Of a regular file, a hash of its content (sha256 cut to 64 bits), so equal bytes compare
   * equal without keeping them: an equality token of 8 latin1 characters, not for display.
   */
  hash?: string;
}

/** How a layer's version of a path relates to what the layers below had there. */
export type ChangeMark = 'added' | 'modified' | 'removed' | 'unmodified';

/**
 * The attributes of an entry; a regular file's with the hash of its bytes.
 * Each kind is made whole by one object literal, so all share a few compact shapes.
 */
export function fileInfoOf(entry: EntryHeader, hash?: string): FileInfo {
  const { type, size, mode, uid, gid, linkname } = entry;
  if (hash !== undefined) return { type, size, mode, uid, gid, hash };
  if (linkname !== undefined) return { type, size, mode, uid, gid, linkname };
  return { type, size, mode, uid, gid };
}

/**
 * Hashes one file's content after another as its pieces arrive. Most files
 * come in one piece, hashed in one call: a hash object per file would cost
 * more than hashing a small file. A sparse file's pieces are only its data
 * regions, so its hash covers its layout (size and regions) too: the holes
 * are never expanded, and the same bytes placed elsewhere are another file.
 * (A sparse and a dense file of equal contents then compare as different.)
 */
export class ContentHasher {
  private size = 0;
  private seen = 0;
  private whole: string | undefined;
  private hash: Hash | undefined;

  start(size: number, sparse?: SparseRegion[]): void {
    this.seen = 0;
    this.whole = undefined;
    if (sparse) {
      // -1: no piece takes the one-call path, so the layout is hashed before the data.
      this.size = -1;
      this.hash = createHash(HASH_ALGORITHM).update(`sparse ${size}:${sparse.map((r) => `${r.offset}+${r.length}`).join(',')}\n`);
    } else {
      this.size = size;
      this.hash = undefined;
    }
  }

  update(piece: Buffer): void {
    if (this.seen === 0 && piece.length === this.size) {
      this.whole = hashOf(piece);
    } else {
      (this.hash ??= createHash(HASH_ALGORITHM)).update(piece);
    }
    this.seen += piece.length;
  }

  digest(): string {
    return this.whole ?? (this.hash ? token(this.hash.digest(HASH_ENCODING)) : EMPTY_HASH);
  }
}

const HASH_ALGORITHM = 'sha256';
// 'binary' is Node's name for latin1: one character per byte.
const HASH_ENCODING = 'binary';
/**
 * The first 64 bits of the digest, as 8 latin1 characters: as strong an
 * equality token as dive's own (xxhash64), and a third of the memory of the
 * whole digest (V8 copies, rather than slices, strings this short).
 */
const token = (digest: string) => digest.slice(0, 8);
const hashOf = (bytes: Buffer) => token(oneShotHash(HASH_ALGORITHM, bytes, HASH_ENCODING));
const EMPTY_HASH = hashOf(Buffer.alloc(0));

/**
 * dive's comparison (type, content hash, mode, uid, gid) plus the link
 * target, which dive ignores: a symlink re-pointed elsewhere is a change.
 */
export function sameFile(a: FileInfo, b: FileInfo): boolean {
  return (
    a.type === b.type &&
    a.hash === b.hash &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    (a.linkname ?? '') === (b.linkname ?? '')
  );
}

/** The directory a tar implies for a path's parents when it has no entry of their own. */
export const IMPLIED_DIRECTORY: FileInfo = Object.freeze({ type: 'directory', size: 0, mode: 0o755, uid: 0, gid: 0 });
