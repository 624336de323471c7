import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { expectStoreIntact } from '../helpers/storeIntegrity.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let root: string;
let digest: string;
let layers: string[];

const isBlobGet = (layer: () => string) => (method: string, path: string) => method === 'GET' && path.endsWith(`/blobs/${layer()}`);

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.host);
  root = await dirs.make();
  const ctx = await dirs.make();
  await writeFile(join(ctx, 'big.bin'), randomBytes(200_000));
  await writeFile(join(ctx, 'small.txt'), 'small\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /\nCOPY small.txt /\n');
  digest = (await ok(['--root', root, '-q', '-t', 'faulty', ctx])).stdout.trim();
  await ok(['--root', root, 'push', '-q', 'faulty', `docker://${registry.host}/base/faulty:1`]);
  const inspected = JSON.parse((await ok(['--root', root, 'inspect', 'faulty'])).stdout) as { manifest: { layers: { digest: string }[] } };
  layers = inspected.manifest.layers.map((l) => l.digest);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  await dirs.cleanup();
});

beforeEach(() => {
  proxy.faults.length = 0;
  proxy.requests.length = 0;
});

describe('pulls through a faulty network', () => {
  it('a connection cut mid-blob is resumed with Range', async () => {
    proxy.faults.push({ match: isBlobGet(() => layers[0]!), action: 'cut' });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/base/faulty:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layers[0]!));
    expect(gets.length).toBe(2);
    expect(gets[1]!.range).toMatch(/^bytes=\d+-$/);
    await expectStoreIntact(store);
  });

  it('500 on the manifest and 429 with Retry-After on a blob end in success after retries', async () => {
    proxy.faults.push({ match: (m, p) => m === 'GET' && p.includes('/manifests/'), action: 'status', status: 500 });
    proxy.faults.push({ match: isBlobGet(() => layers[1]!), action: 'status', status: 429, retryAfter: '1' });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/base/faulty:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    expect(proxy.requests.filter((q) => q.status === 500 || q.status === 429).length).toBe(2);
  });

  it('a corrupted response is fetched once more on a fresh connection, and the bad bytes are discarded', async () => {
    proxy.faults.push({ match: isBlobGet(() => layers[0]!), action: 'corrupt', times: 1 });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/base/faulty:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layers[0]!));
    expect(gets.length).toBe(2);
    expect(gets[1]!.range).toBeUndefined();
    expect(gets[1]!.connection).not.toBe(gets[0]!.connection);
    // No other request went over the retry's connection: it was its own.
    expect(proxy.requests.filter((q) => q.connection === gets[1]!.connection)).toHaveLength(1);
    await expectStoreIntact(store);
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
    expect((await tsbuild(['--root', store, 'system', 'check'])).code).toBe(0);
  });

  it('a corrupted byte every time is a clear digest error and no bad blob enters the store', async () => {
    proxy.faults.push({ match: isBlobGet(() => layers[0]!), action: 'corrupt', times: 100 });
    const store = await dirs.make();
    const r = await tsbuild(['--root', store, 'pull', `${proxy.host}/base/faulty:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`digest mismatch: expected ${layers[0]}`);
    expect(proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layers[0]!))).toHaveLength(2);
    await expectStoreIntact(store);
    const images = JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout) as unknown[];
    expect(images).toEqual([]);
  });

  it('a registry that keeps failing gives up with its error code and URL', async () => {
    proxy.faults.push({ match: (_m, p) => p.includes('/manifests/'), action: 'status', status: 503, times: 100 });
    const r = await tsbuild(['--root', await dirs.make(), 'pull', `${proxy.host}/base/faulty:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`INJECTED: injected 503 (GET http://${proxy.host}/v2/base/faulty/manifests/1 -> 503)`);
    expect(proxy.requests.filter((q) => q.path.includes('/manifests/')).length).toBe(5);
  });
});

describe('pushes', () => {
  it('a second push to another repository mounts every blob: nothing is uploaded', async () => {
    await ok(['--root', root, 'push', '-q', 'faulty', `docker://${proxy.host}/first/img:1`]);
    proxy.requests.length = 0;
    const r = await ok(['--root', root, 'push', 'faulty', `docker://${proxy.host}/second/img:1`]);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(digest);
    const uploads = proxy.requests.filter((q) => (q.method === 'PUT' || q.method === 'PATCH') && q.path.includes('/blobs/uploads/'));
    expect(uploads).toEqual([]);
    expect(proxy.requests.filter((q) => q.method === 'POST' && q.path.includes('mount=')).length).toBe(3);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/second/img:1`]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(digest);
  });

  it('a 500 on an upload is retried and the push succeeds', async () => {
    const ctx = await dirs.make();
    await writeFile(join(ctx, 'new.bin'), randomBytes(1000));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY new.bin /\n');
    const fresh = (await ok(['--root', root, '-q', '-t', 'fresh', ctx])).stdout.trim();
    proxy.faults.push({ match: (m, p) => m === 'PUT' && p.includes('/blobs/uploads/'), action: 'status', status: 500 });
    const r = await ok(['--root', root, 'push', '-q', '--jobs', '1', 'fresh', `docker://${proxy.host}/retry/img:1`]);
    expect(r.stdout).toBe(`${fresh}\n`);
    expect(proxy.requests.some((q) => q.status === 500)).toBe(true);
  });

  // docker-registry refuses a manifest as DIGEST_INVALID while another client re-links one of its blobs.
  it('a manifest PUT refused once as DIGEST_INVALID is sent again; refused every time, it fails in one line', async () => {
    const isManifestPut = (m: string, p: string) => m === 'PUT' && p.includes('/manifests/');
    proxy.faults.push({ match: isManifestPut, action: 'status', status: 400, code: 'DIGEST_INVALID' });
    const r = await ok(['--root', root, 'push', '-q', 'faulty', `docker://${proxy.host}/relinked/img:1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    expect(proxy.requests.filter((q) => isManifestPut(q.method, q.path)).map((q) => q.status)).toEqual([400, 201]);

    proxy.requests.length = 0;
    proxy.faults.push({ match: isManifestPut, action: 'status', status: 400, code: 'DIGEST_INVALID', times: 100 });
    const refused = await tsbuild(['--root', root, 'push', '-q', 'faulty', `docker://${proxy.host}/relinked/img:2`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^tsbuild: error: .*DIGEST_INVALID: injected 400 \(PUT http:\/\/[^ ]+\/manifests\/2 -> 400\)\n$/);
    expect(proxy.requests.filter((q) => isManifestPut(q.method, q.path)).length).toBe(5);
  });
});

/** Runs the CLI under GNU time; returns its peak resident memory in KiB. */
async function peakMemoryKiB(args: string[]): Promise<number> {
  const { stderr } = await run('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, TSBUILD_BIN, ...args]);
  return Number(/maxrss=(\d+)/.exec(stderr)![1]);
}

describe('a 200 MB layer', () => {
  let bigRoot: string;
  let bigDigest: string;
  beforeAll(async () => {
    bigRoot = await dirs.make();
    const ctx = await dirs.make();
    await writeFile(join(ctx, 'huge.bin'), randomBytes(200 * 1024 * 1024));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY huge.bin /\n');
    bigDigest = (await ok(['--root', bigRoot, '-q', '--compression', 'none', '-t', 'big', ctx])).stdout.trim();
  });

  it('goes up as a streamed PATCH, sent again after the connection breaks', async () => {
    proxy.faults.push({ match: (m, p) => m === 'PATCH' && p.includes('/blobs/uploads/'), action: 'cut-upload' });
    const r = await ok(['--root', bigRoot, 'push', '-q', 'big', `docker://${proxy.host}/big/img:1`]);
    expect(r.stdout).toBe(`${bigDigest}\n`);
    const patches = proxy.requests.filter((q) => q.method === 'PATCH');
    expect(patches.length).toBe(2);
  });

  it('streams: pushing and pulling it never holds the layer in memory', async () => {
    // What the CLI needs for a registry round trip that moves no layer, for comparison.
    const baseline = await peakMemoryKiB(['tags', `docker://${proxy.host}/big/img`]);
    const margin = 64 * 1024;
    expect(await peakMemoryKiB(['--root', bigRoot, 'push', '-q', 'big', `docker://${registry.host}/big/streamed:1`])).toBeLessThan(baseline + margin);
    const fresh = await dirs.make();
    expect(await peakMemoryKiB(['--root', fresh, 'pull', '-q', `${registry.host}/big/streamed:1`])).toBeLessThan(baseline + margin);
    const images = JSON.parse((await ok(['--root', fresh, 'images', '--json'])).stdout) as { digest: string }[];
    expect(images.map((i) => i.digest)).toEqual([bigDigest]);
    await expectStoreIntact(fresh);
  });
});

describe('a layer large enough to download straight into a file (8 MB)', () => {
  let fileRoot: string;
  let fileDigest: string;
  let layer: string;
  let layerSize: number;
  beforeAll(async () => {
    fileRoot = await dirs.make();
    const ctx = await dirs.make();
    await writeFile(join(ctx, 'large.bin'), randomBytes(8 * 1024 * 1024));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY large.bin /\n');
    fileDigest = (await ok(['--root', fileRoot, '-q', '--compression', 'none', '-t', 'filed', ctx])).stdout.trim();
    await ok(['--root', fileRoot, 'push', '-q', 'filed', `docker://${registry.host}/file/img:1`]);
    const inspected = JSON.parse((await ok(['--root', fileRoot, 'inspect', 'filed'])).stdout) as { manifest: { layers: { digest: string; size: number }[] } };
    layer = inspected.manifest.layers[0]!.digest;
    layerSize = inspected.manifest.layers[0]!.size;
    expect(layerSize).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('a connection cut halfway is resumed with Range, and the layer verifies', async () => {
    proxy.faults.push({ match: isBlobGet(() => layer), action: 'cut' });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/file/img:1`]);
    expect(r.stdout).toBe(`${fileDigest}\n`);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layer));
    // The proxy cuts the body halfway (what its socket had not sent yet is lost): the second request asks for the rest.
    expect(gets.length).toBe(2);
    expect(gets[0]!.range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(Math.floor(layerSize / 2));
    await expectStoreIntact(store);
    expect((await tsbuild(['--root', store, 'system', 'check'])).code).toBe(0);
  });

  it('a 429 with Retry-After (a chunked error body) is waited out and retried', async () => {
    proxy.faults.push({ match: isBlobGet(() => layer), action: 'status', status: 429, retryAfter: '1' });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/file/img:1`]);
    expect(r.stdout).toBe(`${fileDigest}\n`);
    expect(proxy.requests.filter((q) => q.path.endsWith(layer)).map((q) => q.status)).toEqual([429, 200]);
    await expectStoreIntact(store);
  });

  it('corrupted once, it is downloaded again on a new connection and the bad bytes are discarded', async () => {
    proxy.faults.push({ match: isBlobGet(() => layer), action: 'corrupt', times: 1 });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/file/img:1`]);
    expect(r.stdout).toBe(`${fileDigest}\n`);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layer));
    expect(gets.length).toBe(2);
    expect(gets[1]!.range).toBeUndefined();
    expect(gets[1]!.connection).not.toBe(gets[0]!.connection);
    await expectStoreIntact(store);
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
  });

  it('corrupted every time, the pull fails with a digest error and leaves nothing of it in the store', async () => {
    proxy.faults.push({ match: isBlobGet(() => layer), action: 'corrupt', times: 100 });
    const store = await dirs.make();
    const r = await tsbuild(['--root', store, 'pull', `${proxy.host}/file/img:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`digest mismatch: expected ${layer}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layer))).toHaveLength(2);
    await expectStoreIntact(store);
    expect(await readdir(join(store, 'oci', 'blobs', 'sha256'))).not.toContain(layer.slice('sha256:'.length));
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
    expect(JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout)).toEqual([]);
  });
});
