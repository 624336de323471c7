import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/tools.js';
import { REPO_ROOT, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let indexBefore: Buffer;

beforeAll(async () => {
  await run('make', ['-s', '-C', join(REPO_ROOT, 'samples/hello'), 'hello']);
  root = await dirs.make();
  expect((await tsbuild(['--root', root, '-q', '-t', 'hello', 'samples/hello'])).code).toBe(0);
  indexBefore = await readFile(join(root, 'oci', 'index.json'));
});

afterAll(() => dirs.cleanup());

/** Each case: a Dockerfile and where the error must point (line) and what it must say. */
const CASES: { name: string; dockerfile: string; line: number; says: RegExp }[] = [
  { name: 'unknown instruction', dockerfile: 'FROM scratch\nCOPY a /\nFROB x\n', line: 3, says: /unknown instruction: FROB/i },
  { name: 'no FROM', dockerfile: 'COPY a /\n', line: 1, says: /FROM/ },
  { name: 'COPY with one argument', dockerfile: 'FROM scratch\nCOPY a\n', line: 2, says: /COPY/ },
  { name: 'ENV without a value', dockerfile: 'FROM scratch\nENV\n', line: 2, says: /ENV/ },
  { name: 'unknown flag', dockerfile: 'FROM scratch\nCOPY --bogus=1 a /\n', line: 2, says: /bogus/ },
  { name: 'RUN is not executed yet', dockerfile: 'FROM scratch\nCOPY a /\nRUN echo hi\n', line: 3, says: /RUN/ },
  { name: 'missing COPY source', dockerfile: 'FROM scratch\nCOPY nothere /\n', line: 2, says: /nothere/ },
  { name: 'several sources into a non-directory', dockerfile: 'FROM scratch\nCOPY a b /target\n', line: 2, says: /must be a directory and end with a \// },
  { name: 'unknown --chown user', dockerfile: 'FROM scratch\nCOPY --chown=nobody a /\n', line: 2, says: /nobody/ },
  { name: 'unknown base image', dockerfile: 'FROM localhost/does-not-exist\nCOPY a /\n', line: 1, says: /does-not-exist/ },
  { name: 'unknown target', dockerfile: 'FROM scratch AS one\nCOPY a /\n', line: 0, says: /target/ },
  { name: 'bad SHELL', dockerfile: 'FROM scratch\nSHELL /bin/sh -c\n', line: 2, says: /SHELL/ },
];

describe('malformed Dockerfiles', () => {
  for (const c of CASES) {
    it(`${c.name}: non-zero exit, file:line in the error, store unchanged`, async () => {
      const context = await dirs.make();
      await writeFile(join(context, 'a'), 'a');
      await writeFile(join(context, 'b'), 'b');
      await writeFile(join(context, 'Dockerfile'), c.dockerfile);
      const args = ['--root', root, '-t', 'broken', ...(c.name === 'unknown target' ? ['--target', 'two'] : []), context];
      const out = await tsbuild(args);
      expect(out.code).toBe(1);
      expect(out.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(out.stderr).toMatch(c.says);
      if (c.line > 0) expect(out.stderr).toMatch(new RegExp(`Dockerfile:${c.line}(:\\d+)?: `));
      expect(out.stderr).not.toMatch(/\n\s+at /);
      expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(indexBefore);
    });
  }

  it('a context that is not a directory, and a missing Dockerfile, are clear errors', async () => {
    const missing = await tsbuild(['--root', root, '-t', 'x', '/nonexistent-context']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nonexistent-context/);
    const empty = await dirs.make();
    const noDockerfile = await tsbuild(['--root', root, '-t', 'x', empty]);
    expect(noDockerfile.code).toBe(1);
    expect(noDockerfile.stderr).toMatch(/cannot read Dockerfile .*Dockerfile: no such file/);
    expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(indexBefore);
  });

  it('bad options are refused before anything is written', async () => {
    const context = await dirs.make();
    await mkdir(join(context, 'd'));
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY d /d\n');
    for (const args of [['--compression', 'lz4'], ['--source-date-epoch', 'yesterday'], ['--label', 'novalue'], ['-t', 'UPPER/Case']]) {
      const out = await tsbuild(['--root', root, '-t', 'x', ...args, context]);
      expect(out.code, args.join(' ')).not.toBe(0);
      expect(out.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(indexBefore);
  });
});
