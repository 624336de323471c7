import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { REPO_ROOT, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let digest: string;
const containers: string[] = [];

beforeAll(async () => {
  await requireTools({ runc: 'runc', skopeo: 'skopeo', umoci: 'umoci', make: 'make', gcc: 'gcc' });
  await run('make', ['-s', '-C', join(REPO_ROOT, 'samples/hello'), 'hello']);
  root = await dirs.make();
  const built = await tsbuild(['--root', root, '-t', 'hello', 'samples/hello']);
  expect(built.stderr).toBe('');
  expect(built.code).toBe(0);
  digest = built.stdout.trim().split('\n').at(-1)!;
});

afterAll(async () => {
  for (const id of containers) await run('runc', ['delete', '-f', id]).catch(() => undefined);
  await dirs.cleanup();
});

describe('samples/hello end to end', () => {
  it('reports each step and ends with the image digest; a rebuild comes from the cache with the same digest', async () => {
    const again = await tsbuild(['build', '--root', root, '-t', 'hello', 'samples/hello']);
    const lines = again.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('STEP'))).toEqual(['STEP 1/3: FROM scratch', 'STEP 2/3: COPY hello /', 'STEP 3/3: CMD ["/hello"]']);
    expect(lines[2]).toBe('--> Using cache');
    expect(lines).toContain('Successfully tagged localhost/hello:latest');
    expect(lines.at(-1)).toBe(digest);
    const uncached = await tsbuild(['build', '--root', root, '--no-cache', '-t', 'hello:nocache', 'samples/hello']);
    expect(uncached.stdout).not.toContain('Using cache');
  });

  it('-q prints only the digest', async () => {
    const quiet = await tsbuild(['--root', root, '-q', '-t', 'hello:quiet', 'samples/hello']);
    expect(quiet.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('lists the image under its fully qualified name', async () => {
    const table = await tsbuild(['images', '--root', root]);
    expect(table.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(table.stdout).toMatch(/localhost\/hello\s+latest\s+[0-9a-f]{12}/);
    const json = JSON.parse((await tsbuild(['--root', root, 'images', '--json'])).stdout) as { name: string; digest: string }[];
    expect(json.find((i) => i.name === 'localhost/hello:latest')?.digest).toBe(digest);
  });

  it('writes a bundle that runc runs, printing Hello World!', async () => {
    const bundle = join(await dirs.make(), 'bundle');
    const out = await tsbuild(['--root', root, 'bundle', 'hello', bundle]);
    expect(out.code).toBe(0);
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[]; terminal: boolean } };
    expect(config.process.args).toEqual(['/hello']);
    expect(config.process.terminal).toBe(false);
    const id = `tsbuild-hello-${process.pid}`;
    containers.push(id);
    const { stdout } = await run('runc', ['run', '-b', bundle, id]);
    expect(stdout.split('\n')[0]).toBe('Hello World!');
  });

  it('accepts --root before or after the command name', async () => {
    const before = join(await dirs.make(), 'b');
    const after = join(await dirs.make(), 'a');
    expect((await tsbuild(['--root', root, 'bundle', 'hello', before])).code).toBe(0);
    expect((await tsbuild(['bundle', '--root', root, 'hello', after])).code).toBe(0);
    expect(await readdir(join(after, 'rootfs'))).toEqual(['hello']);
  });

  it('honours TSBUILD_ROOT when --root is not given', async () => {
    const viaEnv = await tsbuild(['images', '--json'], { env: { TSBUILD_ROOT: root } });
    expect(viaEnv.stdout).toContain('localhost/hello:latest');
  });

  it('is readable by skopeo and umoci as a plain OCI layout', async () => {
    const { stdout } = await run('skopeo', ['inspect', `oci:${root}/oci:localhost/hello:latest`]);
    const info = JSON.parse(stdout) as { Digest: string; Architecture: string; Os: string };
    expect(info.Digest).toBe(digest);
    expect(info.Os).toBe('linux');
    const unpacked = join(await dirs.make(), 'umoci');
    await run('umoci', ['unpack', '--image', `${root}/oci:localhost/hello:latest`, unpacked]);
    expect((await stat(join(unpacked, 'rootfs', 'hello'))).mode & 0o777).toBe(0o755);
  });

  it('inspect shows the manifest and the config', async () => {
    const out = JSON.parse((await tsbuild(['--root', root, 'inspect', 'hello'])).stdout) as {
      name: string; digest: string; manifest: { layers: unknown[] }; config: { config: { Cmd: string[] }; history: { created_by: string; empty_layer?: boolean }[] };
    };
    expect(out.name).toBe('localhost/hello:latest');
    expect(out.digest).toBe(digest);
    expect(out.manifest.layers).toHaveLength(1);
    expect(out.config.config.Cmd).toEqual(['/hello']);
    expect(out.config.history.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['COPY hello / # buildkit', false],
      ['CMD ["/hello"]', true],
    ]);
  });

  it('tag adds a name, rmi removes it, prune frees only unreferenced blobs', async () => {
    const store = await dirs.make();
    const built = await tsbuild(['--root', store, '-q', '-t', 'one', 'samples/hello']);
    expect((await tsbuild(['--root', store, 'tag', 'one', 'two:v1', 'registry.example:5000/team/three'])).code).toBe(0);
    const names = JSON.parse((await tsbuild(['--root', store, 'images', '--json'])).stdout).map((i: { name: string }) => i.name);
    expect(names).toEqual(['localhost/one:latest', 'localhost/two:v1', 'registry.example:5000/team/three:latest']);
    expect((await tsbuild(['--root', store, 'rmi', 'one', 'two:v1'])).stdout).toBe('Untagged: localhost/one:latest\nUntagged: localhost/two:v1\n');
    expect((await tsbuild(['--root', store, 'prune'])).stdout).toMatch(/^Deleted 0 blobs\n/);
    expect((await tsbuild(['--root', store, 'rmi', 'registry.example:5000/team/three'])).code).toBe(0);
    const pruned = await tsbuild(['--root', store, 'prune']);
    expect(pruned.stdout).toMatch(/^Deleted 3 blobs\nDeleted 1 build cache entries and 0 unpacked layers\nTotal reclaimed space: [\d.]+kB\n$/);
    expect(await readdir(join(store, 'oci', 'blobs', 'sha256'))).toEqual([]);
    const gone = await tsbuild(['--root', store, 'bundle', built.stdout.trim(), join(store, 'x')]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^tsbuild: error: image "sha256:[0-9a-f]+" not found/);
  });

  it('npx tsbuild and npx tsdive work from the repository root (workspace bins)', async () => {
    const { stdout: tsbuildHelp } = await run('npx', ['--no-install', 'tsbuild', '--help'], { cwd: REPO_ROOT });
    expect(tsbuildHelp).toContain('Usage: tsbuild');
    const { stdout: tsdiveHelp } = await run('npx', ['--no-install', 'tsdive', '--help'], { cwd: REPO_ROOT });
    expect(tsdiveHelp).toContain('Usage: tsdive');
  });

  it('every command has --help, and the top-level help lists them all', async () => {
    const help = await tsbuild(['--help']);
    for (const cmd of ['build', 'images', 'inspect', 'tag', 'rmi', 'prune', 'import', 'bundle']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\b.*\\S`, 'm'));
      const sub = await tsbuild([cmd, '--help']);
      expect(sub.code).toBe(0);
      expect(sub.stdout).toContain(`Usage: tsbuild ${cmd}`);
    }
  });
});
