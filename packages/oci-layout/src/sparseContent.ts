import type { SparseRegion } from './layerEntry.js';

/** A piece of a file's content and where in the file it belongs. */
export interface PlacedPiece {
  data: Buffer;
  offset: number;
}

/**
 * A sparse entry's content (its data regions' bytes, one after another) as
 * pieces at their offsets in the file, for writers that seek (holes stay
 * unwritten) and readers that show the file (holes read as zeros). Throws if
 * the content holds more bytes than the regions.
 */
export async function* placedPieces(content: AsyncIterable<Buffer>, regions: SparseRegion[]): AsyncGenerator<PlacedPiece> {
  let region = 0;
  let within = 0;
  for await (const chunk of content) {
    let at = 0;
    while (at < chunk.length) {
      while (region < regions.length && within === regions[region]!.length) {
        region++;
        within = 0;
      }
      if (region === regions.length) throw new Error('sparse file content is longer than its data regions');
      const length = Math.min(chunk.length - at, regions[region]!.length - within);
      yield { data: chunk.subarray(at, at + length), offset: regions[region]!.offset + within };
      at += length;
      within += length;
    }
  }
}
