import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '@tsbuild/oci-layout';
import { BlobLocationCache } from '@tsbuild/registry';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const blob = (n: number): Digest => digestOf(`blob ${n}`);

describe('BlobLocationCache', () => {
  it('remembers repositories per blob across runs, most recent first, per registry', async () => {
    const file = join(await dirs.make(), 'cache', 'blob-locations.json');
    const first = new BlobLocationCache(file);
    await first.remember(blob(1), 'r.example', 'team/a');
    await first.remember(blob(1), 'r.example', 'team/b');
    await first.remember(blob(1), 'other.example', 'x');
    await first.save();
    const next = new BlobLocationCache(file);
    expect(await next.repositoriesWith(blob(1), 'r.example')).toEqual(['team/b', 'team/a']);
    expect(await next.repositoriesWith(blob(1), 'other.example')).toEqual(['x']);
    expect(await next.repositoriesWith(blob(2), 'r.example')).toEqual([]);
  });

  it('keeps only the most recently seen blobs, and merges with what another process saved meanwhile', async () => {
    const file = join(await dirs.make(), 'blob-locations.json');
    const one = new BlobLocationCache(file, 3);
    for (const n of [1, 2, 3]) await one.remember(blob(n), 'r.example', 'repo');
    await one.save();
    const other = new BlobLocationCache(file, 3);
    const late = new BlobLocationCache(file, 3);
    await late.repositoriesWith(blob(1), 'r.example');
    await other.remember(blob(4), 'r.example', 'repo');
    await other.save();
    // blob 1 seen again: it becomes the most recent, and blob 2 (now the oldest) is dropped.
    await late.remember(blob(1), 'r.example', 'elsewhere');
    await late.save();
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, string[]>;
    expect(Object.keys(saved)).toEqual([blob(3), blob(4), blob(1)]);
    expect(saved[blob(1)]).toEqual(['r.example/elsewhere', 'r.example/repo']);
  });

  it('remembers while its file is still to be named (a store opening), and saves there once it is', async () => {
    const file = join(await dirs.make(), 'blob-locations.json');
    let name!: (path: string) => void;
    const cache = new BlobLocationCache(new Promise<string>((resolve) => (name = resolve)));
    // Waiting for the file here would never end: it is named only below.
    await cache.remember(blob(1), 'r.example', 'repo');
    name(file);
    expect(await cache.repositoriesWith(blob(1), 'r.example')).toEqual(['repo']);
    await cache.save();
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ [blob(1)]: ['r.example/repo'] });
  });

  it('treats a damaged file as empty, and a wrongly typed entry as absent', async () => {
    const file = join(await dirs.make(), 'blob-locations.json');
    await writeFile(file, '{not json');
    expect(await new BlobLocationCache(file).repositoriesWith(blob(1), 'r.example')).toEqual([]);
    await writeFile(file, JSON.stringify({ [blob(1)]: 'r.example/repo', [blob(2)]: ['r.example/ok', 7] }));
    const cache = new BlobLocationCache(file);
    expect(await cache.repositoriesWith(blob(1), 'r.example')).toEqual([]);
    expect(await cache.repositoriesWith(blob(2), 'r.example')).toEqual(['ok']);
  });
});
