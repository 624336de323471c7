/** File data longer than this is cut at its start and every this many bytes into it. */
const DATA_BLOCK = 1024 * 1024;
/** Bytes a block holds at least before the end of an entry may close it. */
const MIN_BLOCK = 512 * 1024;
/** The mean bytes, beyond MIN_BLOCK, until an entry's end closes a block. */
const MEAN_EXTRA = 512 * 1024;
/** A block this long closes at the next entry's end, chosen or not. */
const MAX_BLOCK = 4 * 1024 * 1024;
/** Consumed cuts kept before the list is trimmed. */
const TRIM_AFTER = 1024;

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit number. */
function pathHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Where a layer's tar stream is cut into gzip blocks (ParallelGzip), chosen
 * by what the archive holds rather than by byte count: a block ends at the
 * end of an entry that its path and size pick (after MIN_BLOCK bytes, each
 * entry with a chance in proportion to its size), and long file data is cut
 * at its start and every DATA_BLOCK bytes into it. A file that changes size
 * then moves no cut but those around it, so the blocks after it are the
 * blocks of the layer before, and their members can be taken again
 * (GzipMemberIndex), where fixed cut points would all move.
 *
 * The tar writer marks cuts (stream offsets, increasing) before the bytes
 * they cut reach the compressor, which asks for the next one.
 */
export class BlockCuts {
  private readonly cuts: number[] = [];
  private last = 0;
  private consumed = 0;

  /** A file's data of `length` bytes starts at stream offset `offset`. */
  data(offset: number, length: number): void {
    if (length <= DATA_BLOCK) return;
    for (let at = offset; at < offset + length; at += DATA_BLOCK) this.mark(at);
  }

  /** The entry at `path`, `bytes` long with its header and padding, ends at stream offset `offset`: whether a block ends with it. */
  entryEnd(offset: number, path: string, bytes: number): boolean {
    const since = offset - this.last;
    if (since < MIN_BLOCK || (since < MAX_BLOCK && pathHash(path) >= (bytes / MEAN_EXTRA) * 2 ** 32)) return false;
    this.mark(offset);
    return true;
  }

  /** The first cut after stream offset `offset`, if one is marked yet. */
  after(offset: number): number | undefined {
    while (this.consumed < this.cuts.length && this.cuts[this.consumed]! <= offset) this.consumed++;
    if (this.consumed >= TRIM_AFTER) {
      this.cuts.splice(0, this.consumed);
      this.consumed = 0;
    }
    return this.cuts[this.consumed];
  }

  private mark(offset: number): void {
    if (offset <= this.last) return;
    this.cuts.push(offset);
    this.last = offset;
  }
}
