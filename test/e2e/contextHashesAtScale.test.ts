import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { TSBUILD_BIN, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

// Issue 14 asks that a 1,000,000-entry context-hash store survive a SIGKILL mid-update. A million
// files take minutes to write and build, too slow for the suite; this uses 20,000 entries in one
// directory, so that one segment is big and the killed build is rewriting it (every record is
// superseded at once), which is the update that has the most to lose.

const FILES = 20_000;
const dirs = tempDirs();

afterAll(() => dirs.cleanup());

const content = (version: string, i: number) => `${version} ${String(i).padStart(6, '0')}\n`;

async function writeAll(dir: string, version: (i: number) => string | undefined): Promise<void> {
  for (let i = 0; i < FILES; i++) {
    const v = version(i);
    if (v !== undefined) await writeFile(join(dir, `f${i}.txt`), content(v, i));
  }
}

/** Every file of the store with its size and mtime: any write shows. */
async function storeState(store: string): Promise<string> {
  if (!existsSync(store)) return '';
  const parts: string[] = [];
  for (const fan of await readdir(store)) {
    for (const name of await readdir(join(store, fan))) {
      const st = await stat(join(store, fan, name)).catch((e: NodeJS.ErrnoException) => {
        // Renamed into place between the listing and the stat.
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      parts.push(`${fan}/${name}:${st?.size}:${st?.mtimeMs}`);
    }
  }
  return parts.sort().join('\n');
}

describe('context hash store at scale', () => {
  it(`a build SIGKILLed while it rewrites a ${FILES}-entry segment leaves no wrong hit behind`, async () => {
    const root = await dirs.make();
    const context = await dirs.make();
    const big = join(context, 'tree', 'big');
    await mkdir(big, { recursive: true });
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\n');
    await writeAll(big, () => 'one');
    // Past the store's racy window, so the first build's records are trusted.
    await sleep(2100);
    const build = async () => {
      const r = await tsbuild(['--root', root, 'build', '-t', 'scale', context]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout.includes('--> Using cache');
    };
    expect(await build()).toBe(false);

    await writeAll(big, () => 'two');
    const store = join(root, 'cache', 'context-hashes');
    const before = await storeState(store);
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, 'build', '-t', 'scale', context], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    while (child.exitCode === null && (await storeState(store)) === before) await sleep(1);
    child.kill('SIGKILL');
    await exited;

    // Same size as what the killed build may have remembered: only the stat's times and the content tell.
    await writeAll(big, (i) => (i % 2 === 0 ? 'six' : undefined));
    expect(await build()).toBe(false);
    const bundle = join(await dirs.make(), 'bundle');
    const r = await tsbuild(['--root', root, 'bundle', 'scale', bundle]);
    expect(r.code).toBe(0);
    const wrong: string[] = [];
    for (let i = 0; i < FILES; i++) {
      const got = await readFile(join(bundle, 'rootfs', 'tree', 'big', `f${i}.txt`), 'utf8');
      if (got !== content(i % 2 === 0 ? 'six' : 'two', i)) wrong.push(`f${i}.txt: ${got.trim()}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(await build()).toBe(true);
  }, 600_000);
});
