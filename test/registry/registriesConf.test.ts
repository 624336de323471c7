import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let primary: Awaited<ReturnType<typeof startRegistry>>;
let mirror: Awaited<ReturnType<typeof startRegistry>>;
let mirrorProxy: Awaited<ReturnType<typeof startFaultProxy>>;
let root: string;
let digest: string;
let conf: string;

beforeAll(async () => {
  primary = await startRegistry();
  mirror = await startRegistry();
  mirrorProxy = await startFaultProxy(mirror.host);
  root = await dirs.make();
  digest = await buildRandomImage(root, 'confsample', await dirs.make(), 2000);
  for (const tag of ['1', 'latest']) await ok(['--root', root, 'push', '-q', 'confsample', `docker://${primary.host}/team/sample:${tag}`]);
  const dir = await dirs.make();
  conf = join(dir, 'registries.conf');
  await writeFile(
    conf,
    [
      `unqualified-search-registries = ["${primary.host}"]`,
      '[[registry]]',
      'prefix = "example.test/team"',
      `location = "${primary.host}/team"`,
      '[[registry.mirror]]',
      `location = "${mirrorProxy.host}/mirror"`,
      '[[registry]]',
      'prefix = "blocked.test"',
      'blocked = true',
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'registries.conf.d'));
  await writeFile(join(dir, 'registries.conf.d', '50-aliases.conf'), `[aliases]\n"shorty" = "${primary.host}/team/sample"\n`);
});

afterAll(async () => {
  await mirrorProxy?.stop();
  await mirror?.stop();
  await primary?.stop();
  await dirs.cleanup();
});

describe('registries.conf', () => {
  it('asks the mirror first and falls back to the primary location when the mirror fails', async () => {
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '--registries-conf', conf, 'example.test/team/sample:1']);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(digest);
    expect(r.stdout).toContain('Stored as example.test/team/sample:1');
    expect(mirrorProxy.requests.map((q) => `${q.method} ${q.path}`)).toContain('GET /v2/mirror/sample/manifests/1');
  });

  it('pulls from the mirror once it has the image', async () => {
    await ok(['--root', root, 'push', '-q', 'confsample', `docker://${mirror.host}/mirror/sample:1`]);
    mirrorProxy.requests.length = 0;
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', '--registries-conf', conf, 'example.test/team/sample:1']);
    expect(r.stdout).toBe(`${digest}\n`);
    expect(mirrorProxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/sha256:')).length).toBeGreaterThan(0);
  });

  it('refuses a blocked registry', async () => {
    const r = await tsbuild(['--root', await dirs.make(), 'pull', '--registries-conf', conf, 'blocked.test/any/image:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('blocked.test is blocked in registries.conf');
  });

  it('resolves an alias from a drop-in and a short name through the search registries', async () => {
    const store = await dirs.make();
    const alias = await ok(['--root', store, 'pull', '--registries-conf', conf, 'shorty']);
    expect(alias.stdout).toContain(`Stored as ${primary.host}/team/sample:latest`);
    const short = await ok(['--root', store, 'pull', '--registries-conf', conf, 'team/sample:1']);
    expect(short.stdout).toContain(`Stored as ${primary.host}/team/sample:1`);
    expect(short.stdout.trim().split('\n').at(-1)).toBe(digest);
  });

  it('reports a malformed file by name', async () => {
    const bad = join(await dirs.make(), 'bad.conf');
    await writeFile(bad, '[[registry]]\nprefix = 42\n');
    const r = await tsbuild(['--root', await dirs.make(), 'pull', '--registries-conf', bad, 'x.test/a:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: "prefix" must be a string`);
  });
});
