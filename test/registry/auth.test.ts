import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAuthFile, writeHelperScript } from '../helpers/credentialEnv.js';
import { buildRandomImage } from '../helpers/randomImage.js';
import { IDENTITY_TOKEN, startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { tsbuildOnTerminal } from '../helpers/terminal.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
const USER = 'alice';
const PASSWORD = 'pa:ss w0rd';
let root: string;
let digest: string;
let home: string;

/** A clean credential environment: nothing from the real user's files leaks in. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: home, XDG_RUNTIME_DIR: '', XDG_CONFIG_HOME: '', DOCKER_CONFIG: join(home, 'docker'), REGISTRY_AUTH_FILE: join(home, 'auth.json'), ...extra };
}

function ok(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return tsbuildOk(args, { env: env(opts.env), ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

beforeAll(async () => {
  root = await dirs.make();
  home = await dirs.make();
  digest = await buildRandomImage(root, 'authsample', await dirs.make());
});

afterAll(() => dirs.cleanup());

describe('htpasswd (Basic) auth', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', user: USER, password: PASSWORD });
  });
  afterAll(() => registry?.stop());

  it('refuses an anonymous push with the registry\'s UNAUTHORIZED and the URL', async () => {
    const r = await tsbuild(['--root', root, 'push', 'authsample', `docker://${registry.host}/private/img:1`], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
    expect(r.stderr).toContain(`http://${registry.host}/v2/`);
  });

  it('login rejects a wrong password and stores nothing', async () => {
    const r = await tsbuild(['login', registry.host, '-u', USER, '--password-stdin'], { env: env(), input: 'wrong\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
    await expect(readFile(join(home, 'auth.json'))).rejects.toThrow();
  });

  it('login --password-stdin writes auth.json; push and pull then work; skopeo reads the same file', async () => {
    await ok(['login', registry.host, '-u', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
    const file = JSON.parse(await readFile(join(home, 'auth.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(file.auths[registry.host]!.auth, 'base64').toString()).toBe(`${USER}:${PASSWORD}`);
    const pushed = await ok(['--root', root, 'push', '-q', 'authsample', `docker://${registry.host}/private/img:1`]);
    expect(pushed.stdout).toBe(`${digest}\n`);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', join(home, 'auth.json'), `docker://${registry.host}/private/img:1`]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(digest);
    const fresh = await dirs.make();
    expect((await ok(['--root', fresh, 'pull', '-q', `${registry.host}/private/img:1`])).stdout).toBe(`${digest}\n`);
  });

  it('login on a terminal asks for the password without echoing it', async () => {
    const authFile = join(home, 'tty-auth.json');
    const { code, output } = await tsbuildOnTerminal(['login', registry.host, '-u', USER], env({ REGISTRY_AUTH_FILE: authFile }), [{ prompt: 'Password: ', answer: PASSWORD }]);
    expect(code).toBe(0);
    expect(output).toContain('Login Succeeded!');
    expect(output).not.toContain(PASSWORD);
    const file = JSON.parse(await readFile(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(file.auths[registry.host]!.auth, 'base64').toString()).toBe(`${USER}:${PASSWORD}`);
  });

  it('logout removes the entry; a pull is refused again', async () => {
    await ok(['logout', registry.host]);
    const file = JSON.parse(await readFile(join(home, 'auth.json'), 'utf8')) as { auths: Record<string, unknown> };
    expect(file.auths[registry.host]).toBeUndefined();
    const r = await tsbuild(['--root', await dirs.make(), 'pull', `${registry.host}/private/img:1`], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
  });

  it('reads docker\'s config.json auths when auth.json has nothing', async () => {
    await writeFile(join(home, 'docker-config.json'), '');
    const dockerDir = await dirs.make();
    await writeAuthFile(join(dockerDir, 'config.json'), `http://${registry.host}`, USER, PASSWORD);
    const r = await ok(['--root', await dirs.make(), 'pull', '-q', `${registry.host}/private/img:1`], { env: { DOCKER_CONFIG: dockerDir } });
    expect(r.stdout).toBe(`${digest}\n`);
  });

  /**
   * Pulls `image` (pushed as private/REPO) through a proxy that redirects its first layer's
   * download to "storage" on another host name: whether each hop carried credentials.
   */
  async function redirectedLayerHops(image: string, repo: string, expected: string): Promise<boolean[][]> {
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const proxy = await startFaultProxy(registry.host, { storageAuthorization: basic });
    try {
      const authFile = join(home, `redirect-${image}-auth.json`);
      await writeAuthFile(authFile, proxy.host, USER, PASSWORD);
      const manifest = JSON.parse((await ok(['--root', root, 'inspect', image])).stdout) as { manifest: { layers: { digest: string }[] } };
      const layer = manifest.manifest.layers[0]!.digest;
      proxy.faults.push({ match: (m, p) => m === 'GET' && p.endsWith(`/blobs/${layer}`), action: 'redirect' });
      const r = await ok(['--root', await dirs.make(), 'pull', '-q', `${proxy.host}/private/${repo}`], { env: { REGISTRY_AUTH_FILE: authFile } });
      expect(r.stdout).toBe(`${expected}\n`);
      return proxy.requests.filter((q) => q.path.endsWith(`/blobs/${layer}`)).map((q) => [q.path.startsWith('/__storage__'), q.authorization ?? false]);
    } finally {
      await proxy.stop();
    }
  }

  it('follows a redirect to another host without sending it the credentials', async () => {
    expect(await redirectedLayerHops('authsample', 'img:1', digest)).toEqual([
      [false, true],
      [true, false],
    ]);
  });

  it('a layer large enough to download straight into a file follows a redirect too, without sending it the credentials', async () => {
    const large = await buildRandomImage(root, 'redirectlarge', await dirs.make(), 6 * 1024 * 1024);
    const authFile = join(home, 'push-large-auth.json');
    await writeAuthFile(authFile, registry.host, USER, PASSWORD);
    await ok(['--root', root, 'push', '-q', 'redirectlarge', `docker://${registry.host}/private/large:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(await redirectedLayerHops('redirectlarge', 'large:1', large)).toEqual([
      [false, true],
      [true, false],
    ]);
  });

  it('asks a docker-credential helper named in credHelpers', async () => {
    const bin = await dirs.make();
    await writeHelperScript(bin, 'tsbtest', `#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = "${registry.host}" ] || exit 1\nprintf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"`);
    const dockerDir = await dirs.make();
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'tsbtest' } }));
    const r = await ok(['--root', await dirs.make(), 'pull', '-q', `${registry.host}/private/img:1`], { env: { DOCKER_CONFIG: dockerDir, PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stdout).toBe(`${digest}\n`);
  });
});

describe('token (Bearer) auth with a token server', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'token', user: USER, password: PASSWORD });
  });
  afterAll(() => registry?.stop());

  it('an anonymous token grants nothing: the push fails with the registry\'s error', async () => {
    const r = await tsbuild(['--root', root, 'push', 'authsample', `docker://${registry.host}/tok/img:1`], { env: env({ REGISTRY_AUTH_FILE: join(home, 'none.json') }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORIZED|HTTP 401/);
  });

  it('login, push and pull with tokens scoped to the repository and reused across requests', async () => {
    const authFile = join(home, 'token-auth.json');
    await ok(['login', registry.host, '-u', USER, '--password-stdin'], { input: PASSWORD, env: { REGISTRY_AUTH_FILE: authFile } });
    registry.tokenRequests.length = 0;
    const pushed = await ok(['--root', root, 'push', '-q', 'authsample', `docker://${registry.host}/tok/img:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(pushed.stdout).toBe(`${digest}\n`);
    // one token for the repository's pull,push scope serves every request of the push
    expect(registry.tokenRequests).toEqual([{ scopes: ['repository:tok/img:pull,push'], user: USER }]);
    const fresh = await dirs.make();
    const pulled = await ok(['--root', fresh, 'pull', '-q', `${registry.host}/tok/img:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(pulled.stdout).toBe(`${digest}\n`);
    expect(registry.tokenRequests.at(-1)).toEqual({ scopes: ['repository:tok/img:pull'], user: USER });
  });

  it('a layer large enough to download straight into a file is fetched with the session\'s token: one token request for the pull', async () => {
    const authFile = join(home, 'large-token-auth.json');
    await ok(['login', registry.host, '-u', USER, '--password-stdin'], { input: PASSWORD, env: { REGISTRY_AUTH_FILE: authFile } });
    const large = await buildRandomImage(root, 'authlarge', await dirs.make(), 6 * 1024 * 1024);
    await ok(['--root', root, 'push', '-q', 'authlarge', `docker://${registry.host}/tok/large:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    registry.tokenRequests.length = 0;
    const fresh = await dirs.make();
    const pulled = await ok(['--root', fresh, 'pull', '-q', `${registry.host}/tok/large:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(pulled.stdout).toBe(`${large}\n`);
    expect(registry.tokenRequests).toEqual([{ scopes: ['repository:tok/large:pull'], user: USER }]);
    expect((await tsbuild(['--root', fresh, 'system', 'check'])).code).toBe(0);
  });

  it('an identity token from auth.json is exchanged for access tokens (OAuth2 refresh grant)', async () => {
    const authFile = join(home, 'identity.json');
    await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: { identitytoken: IDENTITY_TOKEN } } }));
    registry.tokenRequests.length = 0;
    const r = await ok(['--root', root, 'push', '-q', 'authsample', `docker://${registry.host}/tok/identity:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
    expect(r.stdout).toBe(`${digest}\n`);
    // the second token adds pull on tok/img, where the blobs are mounted from
    expect(registry.tokenRequests).toEqual([
      { scopes: ['repository:tok/identity:pull,push'], user: USER },
      { scopes: ['repository:tok/identity:pull,push', 'repository:tok/img:pull'], user: USER },
    ]);
  });

  it('login with a wrong password fails with the token server\'s answer', async () => {
    const r = await tsbuild(['login', registry.host, '-u', USER, '--password-stdin'], { env: env({ REGISTRY_AUTH_FILE: join(home, 'x.json') }), input: 'nope' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('authentication with');
    expect(r.stderr).toContain('bad credentials');
  });
});
