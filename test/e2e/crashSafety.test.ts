import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { REPO_ROOT, TSBUILD_BIN, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let context: string;

async function randomFile(path: string, megabytes: number): Promise<void> {
  const fh = await open(path, 'w');
  for (let i = 0; i < megabytes; i++) await fh.write(randomBytes(1024 * 1024));
  await fh.close();
}

/** Starts a build and SIGKILLs it once it reports `step` and has a partial blob on disk, i.e. mid-layer. */
function buildAndKillAt(step: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, '-t', 'big', context], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = '';
    const poll = async () => {
      const partial = (await readdir(join(root, 'tmp'))).some((f) => f.startsWith('.blob-'));
      if (partial) child.kill('SIGKILL');
      else if (child.exitCode === null) setTimeout(poll, 2);
    };
    child.stdout.on('data', (d: Buffer) => {
      const before = seen.includes(step);
      seen += d.toString();
      if (!before && seen.includes(step)) void poll();
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve(signal));
  });
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  await run('make', ['-s', '-C', join(REPO_ROOT, 'samples/hello'), 'hello']);
  root = await dirs.make();
  expect((await tsbuild(['--root', root, '-q', '-t', 'hello', 'samples/hello'])).code).toBe(0);
  context = await dirs.make();
  for (const name of ['one', 'two', 'three']) await randomFile(join(context, name), 48);
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY one /\nCOPY two /\nCOPY three /\n');
});

afterAll(() => dirs.cleanup());

describe('a build killed with SIGKILL halfway', () => {
  it('leaves a store that skopeo reads, and the next build works', async () => {
    expect(await buildAndKillAt('STEP 3/4')).toBe('SIGKILL');
    // It died mid-write: its lease and its partial blob are still there.
    expect(await readdir(join(root, 'leases'))).toHaveLength(1);
    expect((await readdir(join(root, 'tmp'))).filter((f) => f.startsWith('.blob-'))).toHaveLength(1);
    const index = JSON.parse(await readFile(join(root, 'oci', 'index.json'), 'utf8')) as { manifests: unknown[] };
    expect(index.manifests).toHaveLength(1);
    const { stdout } = await run('skopeo', ['inspect', `oci:${root}/oci:localhost/hello:latest`]);
    expect(JSON.parse(stdout).Os).toBe('linux');

    const rebuilt = await tsbuild(['--root', root, '-t', 'big', context]);
    expect(rebuilt.code).toBe(0);
    await run('skopeo', ['inspect', `oci:${root}/oci:localhost/big:latest`]);

    // What the killed build left behind (its partial blob, its lease) is garbage that prune clears.
    const pruned = await tsbuild(['--root', root, 'prune']);
    expect(pruned.code).toBe(0);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    expect(await readdir(join(root, 'leases'))).toEqual([]);
    await run('skopeo', ['inspect', `oci:${root}/oci:localhost/big:latest`]);
    await run('skopeo', ['inspect', `oci:${root}/oci:localhost/hello:latest`]);
  });

  it('two concurrent builds into one store both keep their names', async () => {
    const store = await dirs.make();
    const builds = await Promise.all(
      Array.from({ length: 6 }, (_, i) => tsbuild(['--root', store, '-q', '-t', `parallel${i}`, 'samples/hello'])),
    );
    expect(builds.map((b) => b.code)).toEqual([0, 0, 0, 0, 0, 0]);
    const names = JSON.parse((await tsbuild(['--root', store, 'images', '--json'])).stdout).map((i: { name: string }) => i.name);
    expect(names).toEqual(Array.from({ length: 6 }, (_, i) => `localhost/parallel${i}:latest`));
  });
});
