import { execFile } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/tempDirs.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';
import { REPO_ROOT } from '../helpers/tsbuildCli.js';
import { tsdive } from '../helpers/tsdiveCli.js';

const dirs = tempDirs();

async function writeFiles(dir: string, files: Record<string, { content: string; mode?: number } | { link: string }>) {
  for (const [path, file] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    if ('link' in file) {
      await symlink(file.link, abs);
      continue;
    }
    await writeFile(abs, file.content);
    await chmod(abs, file.mode ?? 0o644);
  }
}

let root: string;
let work: string;
beforeAll(async () => {
  root = await dirs.make('tsdive-store-');
  work = await dirs.make('tsdive-contexts-');
}, 600_000);
afterAll(() => dirs.cleanup());

describe('tsdive build', () => {
  it('builds with tsbuild, then analyses what it built', async () => {
    await writeFiles(join(work, 'a'), {
      Dockerfile: { content: 'FROM scratch\nCOPY . /\n' },
      'a.txt': { content: 'one\n' },
      'b.txt': { content: 'gone\n' },
      'dir/c.txt': { content: 'same\n' },
    });
    const built = await tsdive(['build', '--root', root, '-t', 'diff-a', join(work, 'a'), '--json', '-']);
    expect(built.code, built.stderr).toBe(0);
    // The build log goes to stderr, so stdout is the JSON alone.
    expect(built.stderr).toContain('Successfully tagged localhost/diff-a:latest');
    const doc = JSON.parse(built.stdout);
    expect(doc.layer).toHaveLength(1);
    expect(doc.layer[0].fileList.map((f: { path: string }) => f.path).sort()).toEqual(['Dockerfile', 'a.txt', 'b.txt', 'dir', 'dir/c.txt']);
    expect(doc.image.sizeBytes).toBe('FROM scratch\nCOPY . /\n'.length + 4 + 5 + 5);

    await writeFiles(join(work, 'b'), {
      // Another Dockerfile (-f, relative to the working directory as in tsbuild) so the contexts differ only where meant.
      'build.Dockerfile': { content: 'FROM scratch\nCOPY . /\n' },
      'a.txt': { content: 'two\n' },
      'dir/c.txt': { content: 'same\n', mode: 0o600 },
      'd.txt': { content: 'new file\n' },
      link: { link: 'a.txt' },
    });
    const second = await tsdive(['build', '--root', root, '-t', 'diff-b', '-f', join(work, 'b', 'build.Dockerfile'), join(work, 'b'), '--ci']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('PASS [pass:2 skip:1]');
  });

  it('says so in one line when the build fails', async () => {
    const r = await tsdive(['build', '--root', root, '-t', 'broken', join(work, 'no-such-context'), '--json', '-']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n').at(-1)).toBe('tsdive: tsbuild build failed (exit code 1); nothing to explore');
  });
});

describe('tsdive diff', () => {
  it('lists what changed from one image to the other', async () => {
    const r = await tsdive(['diff', '--root', root, 'diff-a', 'diff-b']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'A: diff-a  (1 layers, 36 B)',
        'B: diff-b  (1 layers, 40 B)',
        'shared base layers: 0',
        '',
        '-      22 B  /Dockerfile',
        '~       4 B  /a.txt   (content)',
        '-       5 B  /b.txt',
        '+      22 B  /build.Dockerfile',
        '+       9 B  /d.txt',
        '~       5 B  /dir/c.txt   (mode 0644 -> 0600)',
        '+   symlink  /link -> a.txt',
        '',
        '3 added, 2 modified, 2 removed',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await tsdive(['diff', '--json', '--root', root, 'diff-a', 'diff-b'])).stdout);
    expect(json.changes.map((c: { path: string; change: string }) => `${c.change} ${c.path}`)).toEqual([
      'removed /Dockerfile', 'modified /a.txt', 'removed /b.txt', 'added /build.Dockerfile', 'added /d.txt', 'modified /dir/c.txt', 'added /link',
    ]);
    expect(json.changes[5].before.mode).toBe(0o644);
    expect(json.changes[5].after.mode).toBe(0o600);
  });

  it('finds no differences between an image and itself, and counts the shared layers', async () => {
    const r = await tsdive(['diff', `docker-archive:${DIVE_IMAGE}`, `docker-archive:${DIVE_IMAGE}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('shared base layers: 14\n');
    expect(r.stdout.endsWith('\nno differences\n')).toBe(true);
  });

  it('fails in one line on an image it cannot read', async () => {
    const r = await tsdive(['diff', `docker-archive:${DIVE_IMAGE}`, 'docker-archive:/nonexistent.tar']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsdive: .*nonexistent\.tar/);
  });
});

describe('the interactive explorer from the CLI', () => {
  it('needs a terminal, and says what to use without one', async () => {
    const r = await tsdive([`docker-archive:${DIVE_IMAGE}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tsdive: the explorer needs a terminal; use --ci or --json FILE when there is none\n');
  });

  it('is never loaded by --json and --ci: ink and react stay unresolved', async () => {
    const dir = await dirs.make('tsdive-hook-');
    // A module resolution hook that fails any import of ink or react.
    await writeFile(join(dir, 'hooks.mjs'), "export async function resolve(specifier, context, next) {\n  if (specifier === 'ink' || specifier === 'react' || specifier.startsWith('react/')) throw new Error(`loaded ${specifier}`);\n  return next(specifier, context);\n}\n");
    await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)});\n`);
    const env = { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` };
    const json = await tsdive(['--json', '-', `docker-archive:${DIVE_IMAGE}`], { env });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const ci = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { env });
    expect(ci.code).toBe(1);
    expect(ci.stdout).toContain('Evaluation:');
    // The hook does bite: importing ink under it fails.
    const bitten = await new Promise<string>((resolve) =>
      execFile('node', ['--input-type=module', '-e', "await import('ink')"], { cwd: REPO_ROOT, env: { ...process.env, ...env } }, (e, _out, stderr) => resolve(e ? stderr : '')),
    );
    expect(bitten).toContain('loaded ink');
  });
});
