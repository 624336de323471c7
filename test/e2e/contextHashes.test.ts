import { readFile, readdir, rm, stat, truncate, utimes, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { TSBUILD_BIN, tsbuild } from '../helpers/tsbuildCli.js';
import { writePackageTree } from '../helpers/packageTree.js';
import { rootAndContextPerTest } from '../helpers/tempDirs.js';

// The build cache's memory of context file hashes (<root>/cache/context-hashes/): a wrong
// remembered hash would reuse a COPY layer holding old content, the worst bug a builder can have.

let root: string;
let context: string;
const dirs = rootAndContextPerTest(async (newRoot, newContext) => {
  root = newRoot;
  context = newContext;
  await writePackageTree(context, 50);
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\n');
});

async function build(): Promise<{ cached: boolean }> {
  const r = await tsbuild(['--root', root, 'build', '-t', 'ctx', context]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { cached: r.stdout.includes('--> Using cache') };
}

/** Past the store's racy window, so its records are trusted and used, not re-read. */
const settle = () => sleep(2100);

/** The built image's /tree, unpacked: its files by path. */
async function imageTree(): Promise<(rel: string) => Promise<string>> {
  const out = join(await dirs.make(), 'bundle');
  const r = await tsbuild(['--root', root, 'bundle', 'ctx', out]);
  expect(r.code).toBe(0);
  return (rel) => readFile(join(out, 'rootfs', 'tree', rel), 'utf8');
}

async function imageFile(rel: string): Promise<string> {
  return (await imageTree())(rel);
}

async function segments(): Promise<string[]> {
  const base = join(root, 'cache', 'context-hashes');
  const found: string[] = [];
  for (const fan of await readdir(base)) for (const name of await readdir(join(base, fan))) found.push(join(base, fan, name));
  return found;
}

/** Rewrites a file with other content of the same size and puts its mtime back: only ctime tells. */
async function sameSizeSameMtime(path: string, content: string): Promise<void> {
  const before = await stat(path);
  expect(Buffer.byteLength(content)).toBe(before.size);
  await writeFile(path, content);
  await utimes(path, before.atime, before.mtime);
}

describe('context hash store', () => {
  it('keeps no whole-file JSON memory; an unchanged rebuild hits the cache', async () => {
    expect((await build()).cached).toBe(false);
    expect((await build()).cached).toBe(true);
    expect(await readdir(join(root, 'cache'))).not.toContain('context-hashes.json');
    expect((await segments()).length).toBeGreaterThan(0);
  });

  it('a content change with the same size and mtime (racily clean) is never a hit', async () => {
    await build();
    await sameSizeSameMtime(join(context, 'tree', 'a', 'f7.txt'), 'package X file 7\n');
    expect((await build()).cached).toBe(false);
    expect(await imageFile('a/f7.txt')).toBe('package X file 7\n');
    await settle();
    await build();
    await sameSizeSameMtime(join(context, 'tree', 'a', 'f7.txt'), 'package Z file 7\n');
    expect((await build()).cached).toBe(false);
    expect(await imageFile('a/f7.txt')).toBe('package Z file 7\n');
  });

  it('a content or size change with a new mtime is never a hit', async () => {
    await settle();
    await build();
    await build();
    const file = join(context, 'tree', 'b', 'f3.txt');
    await writeFile(file, 'package b file 3, longer now\n');
    expect((await build()).cached).toBe(false);
    expect(await imageFile('b/f3.txt')).toBe('package b file 3, longer now\n');
    await writeFile(file, 'package Y file 3, longer now\n');
    expect((await build()).cached).toBe(false);
    expect(await imageFile('b/f3.txt')).toBe('package Y file 3, longer now\n');
  });

  it('a rebuild after changes writes the tree as the context holds it now, where two sources overlap too', async () => {
    // The layer walk takes the listings the key walk made (KeptListings): each must be the directory's, taken once.
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\nCOPY tree tree/a /both/\n');
    await settle();
    await build();
    await writeFile(join(context, 'tree', 'a', 'f2.txt'), 'changed, and longer than before\n');
    await rm(join(context, 'tree', 'b', 'f4.txt'));
    await mkdir(join(context, 'tree', 'c'));
    await writeFile(join(context, 'tree', 'c', 'new.txt'), 'new\n');
    expect((await build()).cached).toBe(false);
    const out = join(await dirs.make(), 'bundle');
    expect((await tsbuild(['--root', root, 'bundle', 'ctx', out])).code).toBe(0);
    const file = (rel: string) => readFile(join(out, 'rootfs', rel), 'utf8');
    for (const rel of ['tree/a/f2.txt', 'both/a/f2.txt', 'both/f2.txt']) expect(await file(rel)).toBe('changed, and longer than before\n');
    for (const rel of ['tree/c/new.txt', 'both/c/new.txt']) expect(await file(rel)).toBe('new\n');
    for (const rel of ['tree/b/f4.txt', 'both/b/f4.txt']) expect(existsSync(join(out, 'rootfs', rel))).toBe(false);
    for (const top of ['tree', 'both']) {
      expect((await readdir(join(out, 'rootfs', top, 'a'))).length).toBe(50);
      expect((await readdir(join(out, 'rootfs', top, 'b'))).length).toBe(49);
      expect(await file(`${top}/b/f49.txt`)).toBe('package b file 49\n');
    }
    expect((await readdir(join(out, 'rootfs', 'both'))).length).toBe(3 + 50);
    expect((await build()).cached).toBe(true);
  });

  it('reads a store written a record per line (before blocks) as it is: a rebuild hashes nothing again', async () => {
    await build();
    await settle();
    await build();
    const line = (value: unknown) => `${crc32(JSON.stringify(value)).toString(16).padStart(8, '0')}\t${JSON.stringify(value)}`;
    const before = new Map<string, string>();
    for (const segment of await segments()) {
      const [header, ...blocks] = (await readFile(segment, 'utf8')).trimEnd().split('\n');
      const records = blocks.flatMap((block) => JSON.parse(block.slice(9)) as unknown[][]);
      expect(records.length).toBeGreaterThan(blocks.length);
      const text = `${[header!, ...records.map(line)].join('\n')}\n`;
      await writeFile(segment, text);
      before.set(segment, text);
    }
    expect((await build()).cached).toBe(true);
    for (const [segment, text] of before) expect(await readFile(segment, 'utf8')).toBe(text);
  });

  it('torn, truncated or damaged segments are only a slower build, never a wrong hit, and heal', async () => {
    await settle();
    await build();
    await build();
    const all = await segments();
    for (const [i, segment] of all.entries()) {
      const { size } = await stat(segment);
      if (i % 3 === 0) await truncate(segment, Math.floor(size / 2));
      if (i % 3 === 1) await appendFile(segment, '0000beef\t["f1.txt",1,2,3');
      if (i % 3 === 2) {
        const text = await readFile(segment, 'utf8');
        // A flipped hash digit without a matching checksum: the record must be ignored.
        await writeFile(segment, text.replace(/"([0-9a-f]{64})"/, (_m, h: string) => `"${h[0] === '0' ? '1' : '0'}${h.slice(1)}"`));
      }
    }
    await writeFile(join(context, 'tree', 'a', 'f1.txt'), 'changed after the crash\n');
    await writeFile(join(context, 'tree', 'b', 'f1.txt'), 'changed too\n');
    expect((await build()).cached).toBe(false);
    expect(await imageFile('a/f1.txt')).toBe('changed after the crash\n');
    expect(await imageFile('b/f1.txt')).toBe('changed too\n');
    expect((await build()).cached).toBe(true);
  });

  it('a build SIGKILLed while it updates the store leaves no wrong hit behind', async () => {
    for (let d = 0; d < 20; d++) {
      await mkdir(join(context, 'tree', `k${d}`));
      for (let i = 0; i < 100; i++) await writeFile(join(context, 'tree', `k${d}`, `f${i}.txt`), `dir ${d} file ${i}\n`);
    }
    await settle();
    await build();
    for (let d = 0; d < 20; d++) await writeFile(join(context, 'tree', `k${d}`, 'f5.txt'), `second ${d}\n`);
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, 'build', '-t', 'ctx', context], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const store = join(root, 'cache', 'context-hashes');
    const before = (await segments()).length;
    while (child.exitCode === null && (!existsSync(store) || (await segments()).length === before)) await sleep(1);
    child.kill('SIGKILL');
    await exited;
    for (let d = 0; d < 20; d += 2) await writeFile(join(context, 'tree', `k${d}`, 'f5.txt'), `third ${d}\n`);
    expect((await build()).cached).toBe(false);
    const image = await imageTree();
    for (let d = 0; d < 20; d++) expect(await image(`k${d}/f5.txt`)).toBe(`${d % 2 === 0 ? 'third' : 'second'} ${d}\n`);
    expect((await build()).cached).toBe(true);
  });
});
