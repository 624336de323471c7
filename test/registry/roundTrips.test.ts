import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuildOk as ok } from '../helpers/tsbuildCli.js';

// Requests without a body learn how the registry authenticates from their own answer, so a pull
// does not begin with a separate `GET /v2/`; a request that sends a body still never goes out
// before the registry's scheme is known, so no upload is sent only to be refused.

const dirs = tempDirs();
let root: string;
let digest: string;

beforeAll(async () => {
  root = await dirs.make();
  digest = await buildRandomImage(root, 'trips', await dirs.make());
});

afterAll(() => dirs.cleanup());

describe('round trips before the first blob', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    await ok(['--root', root, 'push', '-q', 'trips', `docker://${registry.host}/open/trips:1`]);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('a pull from an open registry asks for the manifest first, with no ping before it', async () => {
    proxy.requests.length = 0;
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/open/trips:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    expect(`${proxy.requests[0]!.method} ${proxy.requests[0]!.path}`).toBe('GET /v2/open/trips/manifests/1');
    expect(proxy.requests.some((q) => q.path === '/v2/')).toBe(false);
  });
});

describe('with Basic auth', () => {
  const user = 'trip';
  const password = 'trip-secret';
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', user, password });
    proxy = await startFaultProxy(registry.host);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('a push sends every upload and the manifest with credentials, none of them refused first', async () => {
    proxy.requests.length = 0;
    await ok(['--root', root, 'push', '-q', '--creds', `${user}:${password}`, 'trips', `docker://${proxy.host}/closed/trips:1`]);
    const withBody = proxy.requests.filter((q) => q.method === 'PUT' || q.method === 'PATCH');
    expect(withBody.length).toBeGreaterThan(0);
    expect(withBody.every((q) => q.authorization && q.status !== 401)).toBe(true);
    // The challenge came from the first request's own 401, not from a ping.
    expect(proxy.requests[0]!.path).not.toBe('/v2/');
    expect(proxy.requests[0]!.status).toBe(401);
  });

  it('a pull with credentials gets the image', async () => {
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', '--creds', `${user}:${password}`, `${proxy.host}/closed/trips:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
  });
});
