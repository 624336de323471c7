// Writes the build context the benchmark copies: a deterministic tree of many files whose
// sizes follow a long-tailed distribution (most files small, a few large) and whose contents
// are half text-like (compressible) and half random (incompressible), so compression matters
// the way it does for real application trees.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: a tiny seeded PRNG, so every run and every machine gets the same tree. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function standardNormal(random) {
  const u = Math.max(random(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Sizes drawn log-normally, then scaled so they add up to exactly totalBytes. */
function fileSizes(count, totalBytes, random) {
  const weights = Array.from({ length: count }, () => Math.exp(1.6 * standardNormal(random)));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((w / weightSum) * totalBytes));
  sizes[sizes.length - 1] += totalBytes - sizes.reduce((a, b) => a + b, 0);
  return sizes;
}

/** 8 top directories, 5 below each, 4 below those: files land at every level. */
function directories() {
  const dirs = [];
  for (let t = 0; t < 8; t++) {
    dirs.push(`d${t}`);
    for (let s = 0; s < 5; s++) {
      dirs.push(`d${t}/s${s}`);
      for (let u = 0; u < 4; u++) dirs.push(`d${t}/s${s}/u${u}`);
    }
  }
  return dirs;
}

/** xorshift32 over whole words: fast enough to fill hundreds of megabytes in about a second. */
function randomBytes(size, seed) {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, size);
}

const VOCABULARY = ('const let return function import export from await async class extends '
  + 'interface type string number boolean undefined null true false if else for while switch '
  + 'case break continue throw try catch finally new this super yield static public private '
  + 'readonly buffer stream layer digest manifest config index blob tar gzip zstd image\n')
  .split(' ').map((w) => Buffer.from(`${w} `));

function textBytes(size, random) {
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const word = VOCABULARY[Math.floor(random() * VOCABULARY.length)];
    offset += word.copy(out, offset, 0, Math.min(word.length, size - offset));
  }
  return out;
}

/**
 * Creates `root` holding `fileCount` files totalling `totalBytes` under a few nested
 * directories. Returns what a correct copy of it must contain, for checking results.
 */
export function writeContextTree(root, { fileCount, totalBytes, seed = 20261128 }) {
  const random = seededRandom(seed);
  const dirs = directories();
  for (const dir of dirs) mkdirSync(join(root, dir), { recursive: true });
  const sizes = fileSizes(fileCount, totalBytes, random);
  for (let i = 0; i < fileCount; i++) {
    const dir = dirs[Math.floor(random() * dirs.length)];
    const compressible = random() < 0.5;
    const bytes = compressible ? textBytes(sizes[i], random) : randomBytes(sizes[i], Math.floor(random() * 2 ** 31));
    writeFileSync(join(root, dir, `f${String(i).padStart(6, '0')}.${compressible ? 'txt' : 'bin'}`), bytes);
  }
  return { fileCount, totalBytes, directoryCount: dirs.length, largestFile: Math.max(...sizes) };
}
