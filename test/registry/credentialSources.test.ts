import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCredentials, loginAuthFile } from '@tsbuild/registry';
import { credentialEnv, writeAuthFile, writeCredentialHelper, writeHelperScript } from '../helpers/credentialEnv.js';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
const USER = 'carol';
const PASSWORD = 'se:cret w0rd';
let registry: Awaited<ReturnType<typeof startRegistry>>;
let root: string;
let digest: string;
/** An image the registry holds, pushed before the tests. */
let image: string;

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  registry = await startRegistry({ kind: 'htpasswd', user: USER, password: PASSWORD });
  root = await dirs.make();
  digest = await buildRandomImage(root, 'credsample', await dirs.make());
  image = `${registry.host}/team/credsample:1`;
  const authFile = join(await dirs.make(), 'auth.json');
  await writeAuthFile(authFile, registry.host, USER, PASSWORD);
  const pushed = await tsbuild(['--root', root, 'push', '-q', 'credsample', `docker://${image}`], { env: credentialEnv(await dirs.make(), { REGISTRY_AUTH_FILE: authFile }) });
  if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('docker-credential-* helpers (credsStore, credHelpers)', () => {
  let bin: string;
  let log: string;

  /** A home whose docker config.json is `config`, with the fake helpers on PATH. */
  async function dockerHome(config: object): Promise<NodeJS.ProcessEnv> {
    const home = await dirs.make();
    await mkdir(join(home, '.docker'));
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify(config));
    return credentialEnv(home, { PATH: `${bin}:${process.env.PATH}` });
  }

  const pull = async (env: NodeJS.ProcessEnv) => tsbuild(['--root', await dirs.make(), 'pull', '-q', image], { env });
  const badAuths = () => ({ [registry.host]: { auth: Buffer.from(`${USER}:wrong`).toString('base64') } });

  beforeAll(async () => {
    bin = await dirs.make();
    log = join(bin, 'calls.log');
    await writeCredentialHelper(bin, 'tsbtest', { server: registry.host, user: USER, password: PASSWORD, log });
    await writeCredentialHelper(bin, 'stranger', { server: 'elsewhere.example', user: USER, password: PASSWORD, log });
    await writeCredentialHelper(bin, 'hub', { server: 'https://index.docker.io/v1/', user: 'hubuser', password: 'hubpass', log });
    await writeHelperScript(bin, 'broken', '#!/bin/sh\necho "the keychain is locked" >&2\nexit 1');
  });

  it('credsStore: the helper is run as `get` with the server on stdin, and the push succeeds', async () => {
    await writeFile(log, '');
    const env = await dockerHome({ credsStore: 'tsbtest' });
    const r = await tsbuild(['--root', root, 'push', '-q', 'credsample', `docker://${registry.host}/helper/store:1`], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${digest}\n`);
    expect(new Set((await readFile(log, 'utf8')).trim().split('\n'))).toEqual(new Set([`get ${registry.host}`]));
  });

  it('credHelpers for the registry win over the credsStore and the auths of the same file', async () => {
    const env = await dockerHome({ credHelpers: { [registry.host]: 'tsbtest' }, credsStore: 'broken', auths: badAuths() });
    const r = await pull(env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${digest}\n`);
  });

  it('a helper that does not know the registry means no credentials: the registry\'s 401', async () => {
    const env = await dockerHome({ credHelpers: { [registry.host]: 'stranger' } });
    const r = await pull(env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
    expect(r.stderr).not.toContain('docker-credential');
  });

  it('a credsStore that does not know the registry leaves it to the auths entry', async () => {
    const env = await dockerHome({ credsStore: 'stranger', auths: { [registry.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } });
    expect((await pull(env)).stdout).toBe(`${digest}\n`);
  });

  it('a helper that fails: an error naming the helper, its message and the config that named it', async () => {
    const env = await dockerHome({ credHelpers: { [registry.host]: 'broken' } });
    const r = await pull(env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`credential helper docker-credential-broken failed for ${registry.host}: the keychain is locked`);
    expect(r.stderr).toContain(join(env.HOME!, '.docker', 'config.json'));
  });

  it('a helper that is not installed says so', async () => {
    const env = await dockerHome({ credsStore: 'nothere' });
    const r = await pull(env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('credential helper docker-credential-nothere is not installed (not found on PATH)');
  });

  it('asks helpers about Docker Hub under docker\'s historical server URL', async () => {
    const env = await dockerHome({ credsStore: 'hub' });
    expect(await findCredentials('docker.io', 'library/alpine', { ...process.env, ...env })).toEqual({ username: 'hubuser', password: 'hubpass' });
  });
});

describe('auth files are searched in skopeo\'s order, the first with an entry wins', () => {
  type Place = 'explicit' | 'runtime' | 'userConfig' | 'dockerConfig' | 'dockerHome';
  /** What a file holds: the right password, a wrong one, or no entry for the registry. */
  type Holding = 'good' | 'bad' | 'none';
  const path = (home: string, place: Place) =>
    ({
      explicit: join(home, 'explicit-auth.json'),
      runtime: join(home, 'run', 'containers', 'auth.json'),
      userConfig: join(home, '.config', 'containers', 'auth.json'),
      dockerConfig: join(home, 'docker-config', 'config.json'),
      dockerHome: join(home, '.docker', 'config.json'),
    })[place];

  const cases: { name: string; files: Partial<Record<Place, Holding>>; found: boolean }[] = [
    { name: '${XDG_RUNTIME_DIR}/containers/auth.json before ~/.config (wrong password there)', files: { runtime: 'bad', userConfig: 'good' }, found: false },
    { name: '${XDG_RUNTIME_DIR}/containers/auth.json before ~/.config (right password there)', files: { runtime: 'good', userConfig: 'bad' }, found: true },
    { name: '~/.config/containers/auth.json before ~/.docker/config.json (wrong password there)', files: { userConfig: 'bad', dockerHome: 'good' }, found: false },
    { name: '~/.config/containers/auth.json before ~/.docker/config.json (right password there)', files: { userConfig: 'good', dockerHome: 'bad' }, found: true },
    { name: '$REGISTRY_AUTH_FILE instead of the runtime auth.json (wrong password there)', files: { explicit: 'bad', runtime: 'good' }, found: false },
    { name: '$REGISTRY_AUTH_FILE instead of the runtime auth.json (right password there)', files: { explicit: 'good', runtime: 'bad' }, found: true },
    { name: '$REGISTRY_AUTH_FILE without an entry: ~/.config is still read', files: { explicit: 'none', userConfig: 'good' }, found: true },
    { name: '$DOCKER_CONFIG instead of ~/.docker (no entry there)', files: { dockerConfig: 'none', dockerHome: 'good' }, found: false },
    { name: '$DOCKER_CONFIG instead of ~/.docker (right password there)', files: { dockerConfig: 'good', dockerHome: 'bad' }, found: true },
  ];

  it.each(cases)('$name: tsbuild and skopeo agree', async ({ files, found }) => {
    const home = await dirs.make();
    await mkdir(join(home, 'run'));
    const env = credentialEnv(home);
    for (const [place, holding] of Object.entries(files) as [Place, Holding][]) {
      const file = path(home, place);
      if (holding === 'none') {
        await mkdir(join(file, '..'), { recursive: true });
        await writeFile(file, '{}');
      } else {
        await writeAuthFile(file, registry.host, USER, holding === 'good' ? PASSWORD : 'wrong');
      }
      if (place === 'explicit') env.REGISTRY_AUTH_FILE = file;
      if (place === 'dockerConfig') env.DOCKER_CONFIG = join(file, '..');
    }
    const ours = await tsbuild(['inspect', `docker://${image}`], { env });
    const skopeo = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${image}`], { env: { ...process.env, ...env } }).then(
      ({ stdout }) => ({ ok: true, out: stdout }),
      (e: { stderr: string }) => ({ ok: false, out: e.stderr }),
    );
    if (found) {
      expect((JSON.parse(ours.stdout) as { digest: string }).digest).toBe(digest);
      expect((JSON.parse(skopeo.out) as { Digest: string }).Digest).toBe(digest);
    } else {
      expect(ours.code).toBe(1);
      expect(ours.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
      expect(skopeo.ok).toBe(false);
      expect(skopeo.out).toMatch(/unauthorized/i);
    }
  });
});

describe('login writes where skopeo login does', () => {
  it('${XDG_RUNTIME_DIR}/containers/auth.json when the runtime directory is set', async () => {
    const ours = await dirs.make();
    const theirs = await dirs.make();
    for (const home of [ours, theirs]) await mkdir(join(home, 'run'));
    const r = await tsbuild(['login', registry.host, '-u', USER, '--password-stdin'], { env: credentialEnv(ours), input: PASSWORD });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(join(ours, 'run', 'containers', 'auth.json'));
    await run('skopeo', ['login', '--tls-verify=false', '-u', USER, '-p', PASSWORD, registry.host], { env: { ...process.env, ...credentialEnv(theirs) } });
    const entry = async (home: string) => JSON.parse(await readFile(join(home, 'run', 'containers', 'auth.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect((await entry(ours)).auths[registry.host]).toEqual((await entry(theirs)).auths[registry.host]);
    await expect(stat(join(ours, '.config'))).rejects.toThrow();
  });

  it('refuses, as skopeo does, when $XDG_RUNTIME_DIR names a directory that does not exist', async () => {
    const home = await dirs.make();
    const r = await tsbuild(['login', registry.host, '-u', USER, '--password-stdin'], { env: credentialEnv(home), input: PASSWORD });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(home, 'run')}, set by $XDG_RUNTIME_DIR, is not a directory`);
    const skopeo = await run('skopeo', ['login', '--tls-verify=false', '-u', USER, '-p', PASSWORD, registry.host], { env: { ...process.env, ...credentialEnv(home) } }).then(
      () => true,
      () => false,
    );
    expect(skopeo).toBe(false);
    await expect(stat(join(home, 'run'))).rejects.toThrow();
  });

  it('/run/containers/UID/auth.json without a runtime directory (skopeo\'s default; not written here, it is the machine\'s)', () => {
    expect(loginAuthFile({ HOME: '/home/someone' })).toBe(`/run/containers/${process.getuid!()}/auth.json`);
    expect(loginAuthFile({ HOME: '/home/someone', REGISTRY_AUTH_FILE: '/tmp/a.json', XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/tmp/a.json');
  });
});
