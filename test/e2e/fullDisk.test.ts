import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let bigContext: string;
let midContext: string;
const mounted: string[] = [];

/** A directory on a tmpfs of `megabytes`, unmounted after the test. */
async function smallDisk(megabytes: number): Promise<string> {
  const dir = await dirs.make('tsbuild-full-');
  await run('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

async function grow(dir: string): Promise<void> {
  await run('mount', ['-o', 'remount,size=64m', dir]);
}

/** A failure a person reads: one line, naming the full filesystem's path. */
function expectNoSpaceError(r: { code: number | null; stderr: string }, under: string): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tsbuild: error: /);
  expect(lines[0]).toContain(`no space left on device writing ${under}`);
}

async function expectStoreWhole(store: string): Promise<void> {
  const r = await tsbuild(['--root', store, 'system', 'check']);
  expect(r.stdout).toBe('');
  expect(r.code).toBe(0);
  expect(await readdir(join(store, 'tmp'))).toEqual([]);
}

beforeAll(async () => {
  registry = await startRegistry();
  bigContext = await dirs.make();
  await writeFile(join(bigContext, 'big.bin'), randomBytes(12 * 1024 * 1024));
  await writeFile(join(bigContext, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /\n');
  midContext = await dirs.make();
  await writeFile(join(midContext, 'mid.bin'), randomBytes(5 * 1024 * 1024));
  await writeFile(join(midContext, 'Dockerfile'), 'FROM scratch\nCOPY mid.bin /\n');
  const source = await dirs.make();
  await ok(['--root', source, '-q', '-t', 'big', bigContext]);
  await ok(['--root', source, 'push', '-q', 'big', `docker://${registry.host}/full/big:1`]);
});

afterEach(async () => {
  for (const dir of mounted.splice(0)) await run('umount', [dir]);
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('a store on a disk that fills up', () => {
  it('a build fails with one line naming the path, the store stays whole, and the build works once there is room', async () => {
    const disk = await smallDisk(8);
    const store = join(disk, 'store');
    await ok(['--root', store, '-q', '-t', 'mid', midContext]);
    expectNoSpaceError(await tsbuild(['--root', store, '-q', '-t', 'big', bigContext]), join(store, 'tmp'));
    await expectStoreWhole(store);
    await grow(disk);
    await ok(['--root', store, '-q', '-t', 'big', bigContext]);
    await expectStoreWhole(store);
    expect(JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout).map((i: { name: string }) => i.name).sort()).toEqual(['localhost/big:latest', 'localhost/mid:latest']);
  });

  it('a pull fails the same way and works once there is room', async () => {
    const disk = await smallDisk(8);
    const store = join(disk, 'store');
    expectNoSpaceError(await tsbuild(['--root', store, 'pull', '-q', `${registry.host}/full/big:1`]), join(store, 'tmp'));
    await expectStoreWhole(store);
    expect(JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout)).toEqual([]);
    await grow(disk);
    await ok(['--root', store, 'pull', '-q', `${registry.host}/full/big:1`]);
    await expectStoreWhole(store);
  });

  it('a bundle fails the same way, leaves nothing behind, and works once there is room', async () => {
    const disk = await smallDisk(8);
    const store = join(disk, 'store');
    await ok(['--root', store, '-q', '-t', 'mid', midContext]);
    const bundle = join(disk, 'bundle');
    expectNoSpaceError(await tsbuild(['--root', store, 'bundle', 'mid', bundle]), bundle);
    expect(await readdir(disk)).toEqual(['store']);
    await expectStoreWhole(store);
    await grow(disk);
    await mkdir(bundle);
    await ok(['--root', store, 'bundle', 'mid', bundle]);
    expect(await readdir(join(bundle, 'rootfs'))).toEqual(['mid.bin']);
    await expectStoreWhole(store);
  });
});
