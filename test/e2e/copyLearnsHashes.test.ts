import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TSBUILD_BIN, tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { writePackageTree } from '../helpers/packageTree.js';
import { rootAndContextPerTest } from '../helpers/tempDirs.js';

// A COPY of context files the hash store has never seen is written before its cache key is
// known, the layer writer leaving the hashes of the files it reads in the store, so each file is
// read once (issue 14). Nothing a user sees may change with that order: the layer, the hits, the
// tree later steps build on.

let root: string;
let context: string;
const dirs = rootAndContextPerTest(async (newRoot, newContext) => {
  root = newRoot;
  context = newContext;
  await writePackageTree(context, 300);
  await mkdir(join(context, 'extra'));
  await writeFile(join(context, 'extra', 'e.txt'), 'extra one\n');
});

async function build(dockerfile: string, ...flags: string[]): Promise<{ cached: number; diffIds: string[] }> {
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  const r = await tsbuild(['--root', root, 'build', ...flags, '-t', 'learn', context]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const inspected = JSON.parse((await tsbuildOk(['--root', root, 'inspect', 'learn'])).stdout) as { config: { rootfs: { diff_ids: string[] } } };
  return { cached: r.stdout.split('--> Using cache').length - 1, diffIds: inspected.config.rootfs.diff_ids };
}

/** Past the store's racy window, so its records are trusted and used, not re-read. */
const settle = () => sleep(2100);

const COPY_TREE = 'FROM scratch\nCOPY tree /tree\n';

/** A cold build of COPY_TREE (its files settled past racy-clean), then one that hits with the same layer: the cold one's result. */
async function coldThenHit(): Promise<{ cached: number; diffIds: string[] }> {
  await settle();
  const cold = await build(COPY_TREE);
  expect(cold.cached).toBe(0);
  const again = await build(COPY_TREE);
  expect(again.cached).toBe(1);
  expect(again.diffIds).toEqual(cold.diffIds);
  return cold;
}

describe('COPY of a context the hash store has not seen', () => {
  it('writes the layer a build that hashed the files first writes, and the next build hits', async () => {
    const cold = await coldThenHit();
    // Every hash is in the store now: this build hashes first and writes after.
    const hashedFirst = await build(COPY_TREE, '--no-cache');
    expect(hashedFirst.cached).toBe(0);
    expect(hashedFirst.diffIds).toEqual(cold.diffIds);
  });

  it('hits the cache when only the hash store is gone, and a later step builds on the cached layer', async () => {
    const dockerfile = `${COPY_TREE}COPY extra /tree/a/\n`;
    const first = await build(dockerfile);
    const cachedMtime = (await stat(join(context, 'tree'))).mtime;
    // A directory's mtime is no part of the step's cache key, but the layer holds it.
    const later = new Date(cachedMtime.getTime() + 3_600_000);
    await utimes(join(context, 'tree'), later, later);
    await rm(join(root, 'cache', 'context-hashes'), { recursive: true });
    await writeFile(join(context, 'extra', 'e.txt'), 'extra two\n');
    // Past the racy window: nothing changed while the layer is written, so it is kept until the key is looked up.
    await settle();
    const second = await build(dockerfile);
    expect(second.cached).toBe(1);
    expect(second.diffIds[0]).toBe(first.diffIds[0]);
    // The second COPY restates its parent /tree as the image has it: from the cached layer, not from the context now.
    const bundle = join(await dirs.make(), 'bundle');
    await tsbuildOk(['--root', root, 'bundle', 'learn', bundle]);
    expect(Math.floor((await stat(join(bundle, 'rootfs', 'tree'))).mtimeMs / 1000)).toBe(Math.floor(cachedMtime.getTime() / 1000));
  });

  it('the hashes the layer writer leaves are trusted only while the stat is the same (same size and mtime still misses)', async () => {
    await settle();
    expect((await build(COPY_TREE)).cached).toBe(0);
    expect((await build(COPY_TREE)).cached).toBe(1);
    const file = join(context, 'tree', 'b', 'f9.txt');
    const before = await stat(file);
    await writeFile(file, 'package X file 9\n');
    await utimes(file, before.atime, before.mtime);
    expect((await build(COPY_TREE)).cached).toBe(0);
    const bundle = join(await dirs.make(), 'bundle');
    await tsbuildOk(['--root', root, 'bundle', 'learn', bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'tree', 'b', 'f9.txt'), 'utf8')).toBe('package X file 9\n');
  });

  // The key of a COPY of one directory comes from its layer's own entries where the layer's order is the walk's;
  // otherwise from a walk. Either way it must be the key the next build works out by stat alone.
  const trees: [string, () => Promise<void>][] = [
    ['symlinks and an empty directory', async () => {
      await symlink('a/f1.txt', join(context, 'tree', 'link'));
      await mkdir(join(context, 'tree', 'empty'));
    }],
    ['names the layer and the walk order apart (a, a-b, a.txt)', async () => {
      await writeFile(join(context, 'tree', 'a-b'), 'after a in the walk, before a/ in the layer\n');
      await writeFile(join(context, 'tree', 'a.txt'), 'dot\n');
    }],
    ['a file past the size read whole', async () => {
      await writeFile(join(context, 'tree', 'b', 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    }],
    ['hard links', async () => {
      await link(join(context, 'tree', 'a', 'f2.txt'), join(context, 'tree', 'b', 'same.txt'));
    }],
  ];
  it.each(trees)('a layer written first keys its step as the next build does, with %s', async (_name, write) => {
    await write();
    await coldThenHit();
    await writeFile(join(context, 'tree', 'b', 'f3.txt'), 'package b file 3, changed\n');
    expect((await build(COPY_TREE)).cached).toBe(0);
  });

  it('a directory added to a context built before is in the layer, and the build after hits', async () => {
    await settle();
    await build(COPY_TREE);
    await mkdir(join(context, 'tree', 'c'));
    for (let i = 0; i < 20; i++) await writeFile(join(context, 'tree', 'c', `f${i}.txt`), `package c file ${i}\n`);
    expect((await build(COPY_TREE)).cached).toBe(0);
    const bundle = join(await dirs.make(), 'bundle');
    await tsbuildOk(['--root', root, 'bundle', 'learn', bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'tree', 'c', 'f7.txt'), 'utf8')).toBe('package c file 7\n');
    expect((await build(COPY_TREE)).cached).toBe(1);
  });

  it('a file changed while the layer is written is in the next build as it is now (the layer is written again after the key)', async () => {
    // Enough files that the key's walk comes well after the first directory's hashes are saved.
    for (let d = 0; d < 20; d++) {
      await mkdir(join(context, 'tree', `k${d}`));
      for (let i = 0; i < 500; i++) await writeFile(join(context, 'tree', `k${d}`, `f${i}.txt`), `dir ${d} file ${i}\n`);
    }
    await writeFile(join(context, 'Dockerfile'), COPY_TREE);
    await settle();
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, 'build', '-t', 'learn', context], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const store = join(root, 'cache', 'context-hashes');
    const saved = async () => existsSync(store) && (await Promise.all((await readdir(store)).map((fan) => readdir(join(store, fan))))).some((names) => names.length > 0);
    // tree/a comes first in the layer: once its hashes are saved, its files are in the layer.
    while (child.exitCode === null && !(await saved())) await sleep(1);
    await writeFile(join(context, 'tree', 'a', 'f1.txt'), 'changed while the layer was written\n');
    expect(await exited).toBe(0);
    await build(COPY_TREE);
    const bundle = join(await dirs.make(), 'bundle');
    await tsbuildOk(['--root', root, 'bundle', 'learn', bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'tree', 'a', 'f1.txt'), 'utf8')).toBe('changed while the layer was written\n');
  });
});
