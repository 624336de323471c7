/**
 * A small deterministic PRNG (mulberry32), so a run is fully described by
 * its seed and any input can be regenerated from (seed, target, index).
 */
export class Prng {
  /** @param {number} seed */
  constructor(seed) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next() {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n) {
    return n <= 0 ? 0 : this.next() % n;
  }

  /** An integer in [lo, hi]. */
  between(lo, hi) {
    return lo + this.below(hi - lo + 1);
  }

  /** @template T @param {readonly T[]} items @returns {T} */
  pick(items) {
    return items[this.below(items.length)];
  }

  chance(probability) {
    return this.next() / 0x1_0000_0000 < probability;
  }

  bytes(length) {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** A 32-bit seed for one input of a run (FNV-1a over the run seed, target name and index). */
export function inputSeed(runSeed, target, index) {
  let h = 0x811c9dc5;
  for (const ch of `${runSeed}/${target}/${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}
