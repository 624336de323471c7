import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild, tsbuildOk as ok, type CliResult } from '../helpers/tsbuildCli.js';

const ROUNDS = 20;
const BUILDERS = 4;
const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let store: string;
let shared: Buffer;

const pulled = (k: number) => `${registry.host}/conc/p${k}:1`;

/** A context of its own for builder `k` in `round`: one layer all builds share, one only this build has. */
async function context(k: number, round: number): Promise<string> {
  const dir = await dirs.make();
  await writeFile(join(dir, 'shared.bin'), shared);
  await writeFile(join(dir, 'own.txt'), `builder ${k}, round ${round}\n`);
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY shared.bin /\nCOPY own.txt /\n');
  return dir;
}

beforeAll(async () => {
  registry = await startRegistry();
  shared = randomBytes(64 * 1024);
  const source = await dirs.make();
  for (let k = 0; k < 4; k++) {
    const ctx = await dirs.make();
    await writeFile(join(ctx, `p${k}.bin`), randomBytes(32 * 1024));
    await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\nCOPY p${k}.bin /\n`);
    await ok(['--root', source, '-q', '-t', `p${k}`, ctx]);
    await ok(['--root', source, 'push', '-q', `p${k}`, `docker://${pulled(k)}`]);
  }
  store = join(await dirs.make(), 'store');
  await mkdir(store);
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('8 processes at once on one store', () => {
  it(`builds, pulls, rmi and prune for ${ROUNDS} rounds lose no tag and no blob`, async () => {
    const expected = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const contexts = await Promise.all(Array.from({ length: BUILDERS }, (_, k) => context(k, round)));
      // Pulled this round: p0+p2 or p1+p3; removed this round: the pair pulled last round, and builder 0's last tag.
      const pulls = [round % 2, (round % 2) + 2];
      const removals = [...(round > 0 ? [`b0:r${round - 1}`] : []), ...(round > 0 ? pulls.map((k) => pulled(k ^ 1)) : [])];
      const jobs: Promise<CliResult>[] = [
        ...contexts.map((ctx, k) => tsbuild(['--root', store, '-q', '-t', `b${k}:r${round}`, ctx])),
        ...pulls.map((k) => tsbuild(['--root', store, 'pull', '-q', pulled(k)])),
        tsbuild(['--root', store, 'rmi', ...(removals.length > 0 ? removals : ['--help'])]),
        tsbuild(['--root', store, 'prune']),
      ];
      const results = await Promise.all(jobs);
      for (const r of results) expect(r.stderr).toBe('');
      expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));

      for (let k = 0; k < BUILDERS; k++) expected.add(`localhost/b${k}:r${round}`);
      for (const k of pulls) expected.add(pulled(k));
      for (const name of removals) expected.delete(name.includes('/') ? name : `localhost/${name}`);

      const names = (JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout) as { name: string }[]).map((i) => i.name);
      expect(new Set(names)).toEqual(expected);
    }
    // Every named image is whole: no blob a build or pull was about to name was pruned under it.
    const check = await tsbuild(['--root', store, 'system', 'check']);
    expect(check.stdout).toBe('');
    expect(check.code).toBe(0);
    for (const name of expected) await ok(['--root', store, 'bundle', name, join(await dirs.make(), 'b')]);
    // With nobody writing, prune does delete what rmi left unnamed, and the store is still whole.
    const pruned = await ok(['--root', store, 'prune']);
    expect(pruned.stdout).not.toContain('Deleted 0 blobs');
    expect((await tsbuild(['--root', store, 'system', 'check'])).code).toBe(0);
  }, 900_000);
});
