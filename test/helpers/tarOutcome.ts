import { createHash } from 'node:crypto';
import { TarFormatError, TarParser, type TarMember } from '@tsbuild/oci-layout';

/** What the parser made of an archive: every member it reported, a digest of the content it gave, and how it ended. */
export interface TarOutcome {
  /** `complete`: the member's content ended (false for the member an error or the input's end cut short). */
  members: (TarMember & { contentLength: number; contentMd5: string; complete: boolean })[];
  /** The TarFormatError it ended with (reason and message), or null for a clean end. */
  error: { reason: string; message: string } | null;
}

/** The archive's outcome when its bytes arrive split at `cuts` (offsets, ascending), or in one piece. */
export function tarOutcome(archive: Buffer, cuts: number[] = []): TarOutcome {
  const members: TarOutcome['members'] = [];
  let hash = createHash('md5');
  const finish = () => {
    const last = members[members.length - 1];
    if (last && last.contentMd5 === '') last.contentMd5 = hash.digest('hex');
  };
  const parser = new TarParser({
    member(m) {
      members.push({ ...m, contentLength: 0, contentMd5: '', complete: false });
      hash = createHash('md5');
    },
    content(piece) {
      hash.update(piece);
      members[members.length - 1]!.contentLength += piece.length;
    },
    memberEnd() {
      members[members.length - 1]!.complete = true;
      finish();
    },
  });
  try {
    let at = 0;
    for (const cut of [...cuts, archive.length]) {
      parser.write(archive.subarray(at, cut));
      at = cut;
    }
    parser.end();
    return { members, error: null };
  } catch (error) {
    if (!(error instanceof TarFormatError)) throw error;
    finish();
    return { members, error: { reason: error.reason, message: error.message } };
  }
}

/** Cut offsets that split `length` bytes into pieces of `size`. */
export function everyNBytes(length: number, size: number): number[] {
  const cuts: number[] = [];
  for (let at = size; at < length; at += size) cuts.push(at);
  return cuts;
}

/** `count` random cut offsets (a fixed seed, so a failure repeats), ascending. */
export function randomCuts(length: number, count: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const cuts = new Set<number>();
  for (let i = 0; i < count && length > 1; i++) cuts.add(1 + Math.floor(next() * (length - 1)));
  return [...cuts].sort((a, b) => a - b);
}

/** Piece sizes 1..n. */
export function upTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * Checks that every chunking gives the one-piece outcome: pieces of each of
 * `pieceSizes`, some larger ones, and random cuts. Returns the one-piece
 * outcome.
 */
export function outcomeAtEveryChunking(archive: Buffer, pieceSizes: number[], check: (actual: TarOutcome, expected: TarOutcome, how: string) => void): TarOutcome {
  const whole = tarOutcome(archive);
  for (const size of [...pieceSizes, 1000, 4095, 4096, 65536]) {
    if (size < archive.length) check(tarOutcome(archive, everyNBytes(archive.length, size)), whole, `pieces of ${size}`);
  }
  for (let seed = 1; seed <= 20; seed++) check(tarOutcome(archive, randomCuts(archive.length, 1 + (seed % 7) * 5, seed)), whole, `random cuts, seed ${seed}`);
  return whole;
}
