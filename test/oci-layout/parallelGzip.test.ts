import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ParallelGzip } from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

async function compress(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), new ParallelGzip(), new Writable({ write: (c, _e, cb) => (out.push(c as Buffer), cb()) }));
  return Buffer.concat(out);
}

describe('ParallelGzip', () => {
  const data = Buffer.concat([randomBytes(2_500_000), Buffer.alloc(1_700_000, 'text '), randomBytes(10)]);

  it('writes multi-member gzip that gunzip (CLI and zlib) reads back exactly', async () => {
    const gz = await compress([data.subarray(0, 7), data.subarray(7, 1_500_000), data.subarray(1_500_000)]);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    const file = join(await dirs.make(), 'x.gz');
    await writeFile(file, gz);
    await run('gzip', ['-t', file]);
    const { stdout } = await run('sh', ['-c', `gunzip -c ${file} | sha256sum`]);
    const { createHash } = await import('node:crypto');
    expect(stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('is reproducible whatever the input chunking, and compresses what compresses', async () => {
    const a = await compress([data]);
    const b = await compress(Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536)));
    expect(a.equals(b)).toBe(true);
    expect((await compress([Buffer.alloc(4_000_000, 'a')])).length).toBeLessThan(40_000);
  });

  it('an empty input is still a valid gzip file', async () => {
    expect(gunzipSync(await compress([])).length).toBe(0);
  });
});
