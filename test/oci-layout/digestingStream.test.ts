import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DigestingStream } from '@tsbuild/oci-layout';

// SHA-256 is hashed on the thread pool in updates of gathered chunks, later than the chunks pass:
// the digest must still be the one of the bytes, in their order, whatever their sizes.
async function digestThrough(chunks: Buffer[], algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<{ digest: string; size: number; passed: Buffer }> {
  const hasher = new DigestingStream(algorithm);
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), hasher, new Writable({ write: (c, _e, cb) => (out.push(c as Buffer), cb()) }));
  return { digest: hasher.digest, size: hasher.size, passed: Buffer.concat(out) };
}

function cut(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('DigestingStream', () => {
  const data = randomBytes(24 * 1024 * 1024 + 12345);
  const expected = (bytes: Buffer, algorithm = 'sha256') => `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;

  it('gives the SHA-256 of many MB in chunks of every size, and passes them on unchanged', async () => {
    for (const sizes of [[1024 * 1024], [1, 511, 70_000, 3_000_000], [9 * 1024 * 1024]]) {
      const out = await digestThrough(cut(data, sizes));
      expect(out.digest).toBe(expected(data));
      expect(out.size).toBe(data.length);
      expect(out.passed.equals(data)).toBe(true);
    }
  });

  it('gives the SHA-256 of small and empty input, and SHA-512 when asked', async () => {
    expect((await digestThrough([])).digest).toBe(expected(Buffer.alloc(0)));
    const small = data.subarray(0, 1000);
    expect((await digestThrough(cut(small, [7, 300]))).digest).toBe(expected(small));
    expect((await digestThrough(cut(data, [100_000]), 'sha512')).digest).toBe(expected(data, 'sha512'));
  });

  it('many at once stay apart', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => data.subarray(i * 1_000_000, i * 1_000_000 + 3_000_000 + i));
    const digests = await Promise.all(inputs.map((input) => digestThrough(cut(input, [65_536]))));
    expect(digests.map((d) => d.digest)).toEqual(inputs.map((input) => expected(input)));
  });
});
