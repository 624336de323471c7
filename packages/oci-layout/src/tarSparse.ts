import type { SparseRegion } from './layerEntry.js';
import { sparseNumber, TAR_BLOCK, TarFormatError } from './tarHeader.js';
import { paxInteger, type PaxSparseRecords } from './tarPax.js';

/**
 * Sparse maps of tar members, in the formats Go's archive/tar reads: GNU's
 * old 'S' headers (with extension blocks), and GNU's PAX formats 0.0, 0.1
 * (map in records) and 1.0 (map at the start of the member's data).
 */

/** Most bytes of sparse map held for one member (as Go limits its extended headers). */
export const MAX_SPARSE_MAP_BYTES = 1024 * 1024;

const OLD_GNU_ENTRIES = 386;
const OLD_GNU_EXTENDED = 482;
const OLD_GNU_REAL_SIZE = 483;
const EXTENSION_ENTRIES = 21;
const EXTENSION_EXTENDED = 504;
const ENTRY_SIZE = 24;

function corrupt(why: string): TarFormatError {
  return new TarFormatError('corrupt', `a sparse file's map is corrupt: ${why}`);
}

/** Adds the `count` map entries at `at` (an entry whose offset starts with NUL ends the list, as in GNU and BSD tar). */
function readEntries(block: Buffer, at: number, count: number, regions: SparseRegion[]): void {
  for (let i = 0; i < count; i++) {
    const entry = at + i * ENTRY_SIZE;
    if (block[entry] === 0) return;
    regions.push({ offset: sparseNumber(block, entry), length: sparseNumber(block, entry + 12) });
  }
}

/** The map of an old GNU sparse header ('S'): its first regions, the logical size, and whether extension blocks follow. */
export function oldGnuSparseHeader(block: Buffer, at: number): { regions: SparseRegion[]; size: number; extended: boolean } {
  const regions: SparseRegion[] = [];
  readEntries(block, at + OLD_GNU_ENTRIES, 4, regions);
  return { regions, size: sparseNumber(block, at + OLD_GNU_REAL_SIZE), extended: block[at + OLD_GNU_EXTENDED]! > 0 };
}

/** Adds an old GNU sparse extension block's regions; whether another block follows. */
export function oldGnuSparseExtension(block: Buffer, at: number, regions: SparseRegion[]): boolean {
  readEntries(block, at, EXTENSION_ENTRIES, regions);
  return block[at + EXTENSION_EXTENDED]! > 0;
}

/** Which GNU sparse PAX format the records describe, identified as Go does; undefined when the member is not sparse. */
export function paxSparseFormat(sparse: PaxSparseRecords | undefined): '0.x' | '1.0' | undefined {
  if (!sparse) return undefined;
  const major = sparse.major ?? '';
  const minor = sparse.minor ?? '';
  if (major === '0' && (minor === '0' || minor === '1')) return '0.x';
  if (major === '1' && minor === '0') return '1.0';
  if (major !== '' || minor !== '') return undefined;
  return sparse.map ? '0.x' : undefined;
}

/** The logical size the records give, if any. */
export function paxSparseSize(sparse: PaxSparseRecords): number | undefined {
  return sparse.size === undefined ? undefined : paxInteger(sparse.size, 'GNU.sparse.size');
}

function entryCount(text: string): number {
  const count = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(count)) throw corrupt('bad number of entries');
  return count;
}

function regionsOf(numbers: string[]): SparseRegion[] {
  const regions: SparseRegion[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) {
    regions.push({ offset: paxInteger(numbers[i]!, 'GNU.sparse.map'), length: paxInteger(numbers[i + 1]!, 'GNU.sparse.map') });
  }
  return regions;
}

/** The map of PAX sparse 0.0 or 0.1: `GNU.sparse.numblocks` pairs in `GNU.sparse.map`. */
export function paxSparse0x(sparse: PaxSparseRecords): SparseRegion[] {
  const count = entryCount(sparse.numBlocks ?? '');
  const numbers = sparse.map ? sparse.map.split(',') : [];
  if (numbers.length !== 2 * count) throw corrupt(`GNU.sparse.map does not hold ${count} regions`);
  return regionsOf(numbers);
}

const NEWLINE = 0x0a;

/**
 * PAX sparse 1.0 keeps its map at the start of the member's data, as decimal
 * lines (the count, then offset and length of each region), padded to whole
 * blocks. Feed it blocks until it is complete.
 */
export class SparseMap1x0 {
  private readonly blocks: Buffer[] = [];
  private newlines = 0;
  private needed = 1;

  /** Takes one block (copied); true once the map is complete. */
  add(block: Buffer): boolean {
    if ((this.blocks.length + 1) * TAR_BLOCK > MAX_SPARSE_MAP_BYTES) {
      throw new TarFormatError('too-large', `a sparse file's map is larger than ${MAX_SPARSE_MAP_BYTES} bytes`);
    }
    this.blocks.push(Buffer.from(block));
    for (let i = 0; i < TAR_BLOCK; i++) if (block[i] === NEWLINE) this.newlines++;
    if (this.needed === 1 && this.newlines >= 1) {
      const text = Buffer.concat(this.blocks).toString('latin1');
      this.needed = 1 + 2 * entryCount(text.slice(0, text.indexOf('\n')));
    }
    return this.newlines >= this.needed;
  }

  regions(): SparseRegion[] {
    const lines = Buffer.concat(this.blocks).toString('latin1').split('\n', this.needed);
    return regionsOf(lines.slice(1));
  }
}

/**
 * Checks the regions against the logical size (in order, not overlapping,
 * inside the file, as BSD and Go's tar check them) and that the member's
 * data holds exactly their bytes; returns them without empty regions.
 */
export function checkedRegions(regions: SparseRegion[], size: number, dataBytes: number): SparseRegion[] {
  let end = 0;
  let total = 0;
  const kept: SparseRegion[] = [];
  for (const region of regions) {
    const { offset, length } = region;
    if (offset < 0 || length < 0 || offset + length > size || offset < end) throw corrupt('regions overlap or lie outside the file');
    end = offset + length;
    total += length;
    if (length > 0) kept.push(region);
  }
  if (total !== dataBytes) throw corrupt(`its regions hold ${total} bytes, the member stores ${dataBytes}`);
  return kept;
}
