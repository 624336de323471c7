import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let context: string;

const tsb = (args: string[], input?: string | Buffer) => tsbuildOk(['--root', root, ...args], input === undefined ? {} : { input });
const configOf = async (ref: string) => JSON.parse((await tsb(['inspect', ref])).stdout).config as { config: { Labels?: Record<string, string> } };

beforeAll(async () => {
  root = await dirs.make();
  context = await dirs.make();
  await writeFile(join(context, 'a'), 'from the context\n');
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nLABEL from=file\n');
  await importBusybox(root);
}, 120_000);
afterAll(() => dirs.cleanup());

describe('--progress', () => {
  it('plain and auto print the steps, quiet only the digest; an unknown mode is one line of error', async () => {
    const plain = await tsb(['build', '--progress=plain', context]);
    expect(plain.stdout).toMatch(/^STEP 1\/3: FROM scratch\nSTEP 2\/3: COPY a \/a\n/);
    // Only plain says why a step missed the cache.
    const withoutCacheLines = (out: string) => out.replace(/--> (Using cache|Cache miss: .*)\n/g, '');
    expect(withoutCacheLines((await tsb(['build', '--progress', 'auto', context])).stdout)).toBe(withoutCacheLines(plain.stdout));
    expect((await tsb(['build', '--progress=quiet', context])).stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const bad = await tsbuild(['--root', root, 'build', '--progress=fancy', context]);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split('\n')).toEqual([
      "error: option '--progress <mode>' argument 'fancy' is invalid. Allowed choices are auto, plain, tty, quiet.",
      '(add --help for usage)',
    ]);
  });
});

describe('stdin', () => {
  it('-f - reads the Dockerfile from stdin, the context stays the directory', async () => {
    await tsb(['build', '-q', '-t', 'stdin-dockerfile', '-f', '-', context], 'FROM scratch\nCOPY a /copied\nLABEL from=stdin\n');
    expect((await configOf('stdin-dockerfile')).config.Labels).toEqual({ from: 'stdin' });
    const bundle = join(await dirs.make(), 'b');
    await tsb(['bundle', 'stdin-dockerfile', bundle]);
    await expect(run('cat', [join(bundle, 'rootfs/copied')])).resolves.toMatchObject({ stdout: 'from the context\n' });
  });

  it('- reads the context as a tar stream, plain or gzip (docker build - < ctx.tar), with its Dockerfile', async () => {
    const tarball = join(await dirs.make(), 'ctx.tar');
    await run('tar', ['-C', context, '-cf', tarball, '.']);
    const fromDir = (await tsb(['build', '-q', context])).stdout;
    const plain = await tsbuildOk(['--root', root, 'build', '-q', '-'], { input: await readFile(tarball) });
    expect(plain.stdout).toBe(fromDir);
    await run('gzip', ['-k', tarball]);
    const gzipped = await tsbuildOk(['--root', root, 'build', '-q', '-t', 'from-tgz', '-'], { input: await readFile(`${tarball}.gz`) });
    expect(gzipped.stdout).toBe(fromDir);
    expect(JSON.parse((await tsb(['images', '--json'])).stdout).some((r: { name?: string }) => r.name === 'localhost/from-tgz:latest')).toBe(true);
  });

  it('- with a Dockerfile on stdin builds with an empty context; - with -f - is refused', async () => {
    await tsb(['build', '-q', '-t', 'stdin-only', '-'], 'FROM scratch\nLABEL only=stdin\n');
    expect((await configOf('stdin-only')).config.Labels).toEqual({ only: 'stdin' });
    const copyFails = await tsbuild(['--root', root, 'build', '-'], { input: 'FROM scratch\nCOPY a /a\n' });
    expect(copyFails.code).toBe(1);
    expect(copyFails.stderr).toMatch(/^tsbuild: error: <stdin>:2(:\d+)?: .*\ba\b/);
    const both = await tsbuild(['--root', root, 'build', '-f', '-', '-'], { input: 'FROM scratch\n' });
    expect(both.stderr).toBe('tsbuild: error: the context and the Dockerfile cannot both come from stdin (- and -f -)\n');
  });
});

describe('RUN container settings', () => {
  it('--add-host, --ulimit and --shm-size reach the RUN step, and are part of its cache key', async () => {
    const dir = await dirs.make();
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nRUN grep db.local /etc/hosts; ulimit -Sn; ulimit -Hn; grep " /dev/shm " /proc/mounts\n');
    const out = await tsb(['build', '--add-host', 'db.local:10.1.2.3', '--ulimit', 'nofile=512:700', '--shm-size', '128m', dir]);
    expect(out.stdout).toContain('[STEP 2/2] 10.1.2.3\tdb.local\n[STEP 2/2] 512\n[STEP 2/2] 700\n');
    expect(out.stdout).toMatch(/\[STEP 2\/2\] shm \/dev\/shm tmpfs \S*size=131072k/);
    const plain = await tsb(['build', dir]);
    expect(plain.stdout).not.toContain('Using cache');
    expect(plain.stdout).not.toContain('10.1.2.3');
    expect(plain.stdout).toMatch(/\[STEP 2\/2\] shm \/dev\/shm tmpfs \S*size=65536k/);
    // The hosts file is bound in for the step and never committed.
    const bundle = join(await dirs.make(), 'b');
    await tsb(['bundle', (await tsb(['build', '-q', '--add-host', 'db.local:10.1.2.3', dir])).stdout.trim(), bundle]);
    await expect(run('grep', ['-c', 'db.local', join(bundle, 'rootfs/etc/hosts')])).rejects.toThrow();
  });

  it('bad values are one-line errors', async () => {
    for (const [flag, value, says] of [
      ['--add-host', 'nocolon', /invalid --add-host "nocolon": expected HOST:IP/],
      ['--ulimit', 'nofile=10:5', /soft limit is above the hard limit/],
      ['--ulimit', 'bogus=1', /invalid --ulimit "bogus=1"/],
      ['--shm-size', '12q', /invalid --shm-size "12q"/],
    ] as const) {
      const out = await tsbuild(['--root', root, 'build', flag, value, context]);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(says);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('--build-context', () => {
  it('a directory serves COPY --from (with its own .dockerignore) and RUN --mount from; docker-image:// replaces FROM NAME', async () => {
    const project = await dirs.make();
    await writeFile(join(project, 'kept'), 'from the named context\n');
    await writeFile(join(project, 'secret'), 'ignored\n');
    await writeFile(join(project, '.dockerignore'), 'secret\n');
    const dir = await dirs.make();
    await writeFile(join(dir, 'Dockerfile'), [
      'FROM base',
      'COPY --from=project . /project/',
      'RUN --mount=from=project,target=/p cat /p/kept > /mounted',
      '',
    ].join('\n'));
    await tsb(['build', '-q', '-t', 'named-ctx', '--build-context', `project=${project}`, '--build-context', 'base=docker-image://busybox', dir]);
    const bundle = join(await dirs.make(), 'b');
    await tsb(['bundle', 'named-ctx', bundle]);
    expect(await readFile(join(bundle, 'rootfs/project/kept'), 'utf8')).toBe('from the named context\n');
    await expect(readFile(join(bundle, 'rootfs/project/secret'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(bundle, 'rootfs/mounted'), 'utf8')).toBe('from the named context\n');

    // A change in the named context reaches the cache key of the steps that read it.
    await writeFile(join(project, 'kept'), 'changed\n');
    const again = await tsb(['build', '--build-context', `project=${project}`, '--build-context', 'base=docker-image://busybox', dir]);
    expect(again.stdout).not.toContain('Using cache');

    const bad = await tsbuild(['--root', root, 'build', '--build-context', 'x=https://example.com/repo.git', dir]);
    expect(bad.stderr).toBe('tsbuild: error: --build-context "x=https://example.com/repo.git": only directories, docker-image:// and oci-layout:// are supported\n');
  });
});

describe('--pull', () => {
  it('looks the base up in its registry even though the store has it', async () => {
    const registry = await startRegistry();
    try {
      const base = `${registry.host}/lib/base:latest`;
      const version = async (n: string) => {
        const dir = await dirs.make();
        await writeFile(join(dir, 'Dockerfile'), `FROM scratch\nLABEL version=${n}\n`);
        await tsb(['build', '-q', '-t', `base-${n}`, dir]);
        await tsb(['push', '--tls-verify=false', `base-${n}`, `docker://${base}`]);
      };
      const child = await dirs.make();
      await writeFile(join(child, 'Dockerfile'), `FROM ${base}\nLABEL child=yes\n`);
      await version('1');
      await tsb(['build', '-q', '--tls-verify=false', '-t', 'child', child]);
      expect((await configOf('child')).config.Labels).toEqual({ version: '1', child: 'yes' });
      await version('2');
      await tsb(['build', '-q', '--tls-verify=false', '-t', 'child', child]);
      expect((await configOf('child')).config.Labels).toEqual({ version: '1', child: 'yes' });
      const pulled = await tsb(['build', '--pull', '--tls-verify=false', '-t', 'child', child]);
      expect(pulled.stdout).toContain(`Pulling ${base}`);
      expect((await configOf('child')).config.Labels).toEqual({ version: '2', child: 'yes' });
    } finally {
      await registry.stop();
    }
  });
});
