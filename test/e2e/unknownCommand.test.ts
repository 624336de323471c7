import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

describe('a first word that is neither a command nor a context', () => {
  it('is an unknown command with the nearest command suggested, exit 125 as podman', async () => {
    const root = await dirs.make();
    const out = await tsbuild(['--root', root, 'imgaes']);
    expect(out.code).toBe(125);
    expect(out.stderr).toBe('tsbuild: error: unknown command "imgaes" (did you mean "images"?)\n');
  });

  it('names the word without a guess when no command is near it', async () => {
    const out = await tsbuild(['frobnicate', 'x']);
    expect(out.code).toBe(125);
    expect(out.stderr).toBe('tsbuild: error: unknown command "frobnicate"\n');
  });

  it('an option or argument the command line cannot take is refused with exit 125, as podman and docker do', async () => {
    const option = await tsbuild(['run', '--memry', '10m', 'hello']);
    expect(option.code).toBe(125);
    expect(option.stderr).toBe("error: unknown option '--memry'\n(Did you mean --memory?)\n(add --help for usage)\n");
    const missing = await tsbuild(['run']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^error: missing required argument 'image'\n/);
  });

  it('--version (and -v) prints the version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../packages/builder/package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const out = await tsbuild([flag]);
      expect(out.code).toBe(0);
      expect(out.stdout).toBe(`tsbuild version ${version}\n`);
    }
  });

  it('help is a command', async () => {
    const out = await tsbuild(['help', 'images']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage: tsbuild images');
  });

  it('an existing directory of that name is still a build context', async () => {
    const cwd = await dirs.make();
    await mkdir(join(cwd, 'imgaes'));
    await writeFile(join(cwd, 'imgaes', 'Dockerfile'), 'FROM scratch\nLABEL a=b\n');
    const out = await tsbuild(['--root', join(cwd, 'store'), 'imgaes', '-q'], { cwd });
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });
});
