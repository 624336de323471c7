import { mkdir, writeFile } from 'node:fs/promises';
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
