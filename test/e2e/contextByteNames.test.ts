import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

// File names are bytes: a build context may hold names that are not UTF-8, which Docker and
// buildah copy as they are. The layer must hold the exact bytes, and two such names must never
// share a cache key.

const run = promisify(execFile);
const dirs = tempDirs();
let root: string;
let context: string;

afterAll(() => dirs.cleanup());

/** `dir`/NAME, NAME given as bytes. */
const bytePath = (dir: string, ...bytes: number[]) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);

beforeEach(async () => {
  root = await dirs.make();
  context = await dirs.make();
  await mkdir(join(context, 'tree'));
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\n');
  await writeFile(bytePath(join(context, 'tree'), 0x66, 0xff), 'latin-1 y with diaeresis\n');
  await mkdir(bytePath(join(context, 'tree'), 0x64, 0xe9));
  await writeFile(Buffer.concat([bytePath(join(context, 'tree'), 0x64, 0xe9), Buffer.from('/inside.txt')]), 'in a latin-1 directory\n');
  await symlink(Buffer.from([0x66, 0xff]), bytePath(join(context, 'tree'), 0x6c, 0xfe));
});

async function build(): Promise<{ cached: boolean }> {
  const r = await tsbuild(['--root', root, 'build', '-t', 'bytes', context]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { cached: r.stdout.includes('--> Using cache') };
}

/** The image's only layer, unpacked by GNU tar (the oracle) into a new directory. */
async function unpackedLayer(): Promise<string> {
  const oci = join(root, 'oci');
  const blob = (digest: string) => join(oci, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(join(oci, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'localhost/bytes:latest')!;
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as { layers: { digest: string }[] };
  const out = await dirs.make();
  await run('tar', ['-xzf', blob(manifest.layers[0]!.digest), '-C', out]);
  return out;
}

const namesIn = async (dir: string | Buffer) => (await readdir(dir, { encoding: 'buffer' })).map((n) => n.toString('hex')).sort();

describe('build context names that are not UTF-8', () => {
  it('are copied as their exact bytes: files, directories and link targets', async () => {
    expect((await build()).cached).toBe(false);
    const out = await unpackedLayer();
    expect(await namesIn(join(out, 'tree'))).toEqual(['64e9', '66ff', '6cfe']);
    expect(await readFile(bytePath(join(out, 'tree'), 0x66, 0xff), 'utf8')).toBe('latin-1 y with diaeresis\n');
    expect(await readFile(Buffer.concat([bytePath(join(out, 'tree'), 0x64, 0xe9), Buffer.from('/inside.txt')]), 'utf8')).toBe('in a latin-1 directory\n');
    expect((await readlink(bytePath(join(out, 'tree'), 0x6c, 0xfe), { encoding: 'buffer' })).toString('hex')).toBe('66ff');
    expect((await build()).cached).toBe(true);
  });

  it('two names that differ only in bytes that are not UTF-8 never share a cache key', async () => {
    await build();
    await rename(bytePath(join(context, 'tree'), 0x66, 0xff), bytePath(join(context, 'tree'), 0x66, 0xfe));
    expect((await build()).cached).toBe(false);
    expect(await namesIn(join(await unpackedLayer(), 'tree'))).toEqual(['64e9', '66fe', '6cfe']);
  });
});
