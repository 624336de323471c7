import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '@tsbuild/oci-layout';
import { buildCase } from '../helpers/buildCase.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const FILES = Object.fromEntries(['f!1', 'fa1', 'fc1', 'f-1', 'f]1', 'f*1', 'fx1', 'g.1', 'gx1'].map((n) => [`src/${n}`, n]));

async function copied(source: string): Promise<string[]> {
  const work = await dirs.make('tsbuild-copy-glob-');
  const store = await LocalStore.open(join(work, 'store'));
  const built = await buildCase(work, store, FILES, `FROM scratch\nCOPY ${source} /out/\n`);
  return Object.keys(built.tree).filter((p) => p.startsWith('out/')).map((p) => p.slice(4)).sort();
}

// The Dockerfile's own escape character consumes a backslash before the pattern sees it, so escapes are tested with .dockerignore.
describe('COPY sources match as Go\'s filepath.Match does', () => {
  it.each([
    ['src/f[!a]1', ['f!1', 'fa1']],
    ['src/f[^a!]1', ['f*1', 'f-1', 'f]1', 'fc1', 'fx1']],
    ['src/f[a-c]1', ['fa1', 'fc1']],
    ['src/f[*]1', ['f*1']],
    ['src/g.1', ['g.1']],
    ['src/g?1', ['g.1', 'gx1']],
  ])('%s', async (source, want) => {
    expect(await copied(source)).toEqual(want);
  });

  it.each([
    ['src/f[', /bad pattern "f\[": unterminated character class/],
    ['src/f[a-]1', /bad pattern "f\[a-\]1": "\]" must be escaped/],
    ['src/f[]-]1', /bad pattern "f\[\]-\]1": "\]" must be escaped/],
    ['src/f[z-a]1', /reversed range "z-a"/],
  ])('refuses the malformed %s', async (source, message) => {
    await expect(copied(source)).rejects.toThrow(message);
  });

  it('matches a pattern of many stars against a long name at once (no backtracking)', async () => {
    const files = { [`src/${'a'.repeat(100)}`]: 'long', [`src/${'a'.repeat(30)}b`]: 'matches' };
    const work = await dirs.make('tsbuild-copy-glob-');
    const store = await LocalStore.open(join(work, 'store'));
    // A backtracking matcher tries about 100^30 ways to place the stars before it gives up on the long name.
    const built = await buildCase(work, store, files, `FROM scratch\nCOPY src/${'*a'.repeat(30)}b /out/\n`);
    expect(Object.keys(built.tree).filter((p) => p.startsWith('out/')).sort()).toEqual([`out/${'a'.repeat(30)}b`]);
  });
});
