import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownAddress, selfSignedCertificate, startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { expectStoreIntact } from '../helpers/storeIntegrity.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

// A layer of 4 MiB or more is fetched by tsbuild's own HTTP/1.1 client straight into its store
// file; these are the same guards as in faults.test.ts, over TLS (the registry behind an HTTPS proxy on
// this machine's own address: tsbuild speaks plain HTTP to loopback).
const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
/** Another HTTPS proxy in front of the registry, with a certificate nobody trusts: "storage" a redirect may point at. */
let untrustedStorage: Awaited<ReturnType<typeof startFaultProxy>>;
let certFile: string;
let imageDigest: string;
let layer: string;

const layerGets = () => proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(`/blobs/${layer}`));
const trusted = () => ({ env: { NODE_EXTRA_CA_CERTS: certFile } });

beforeAll(async () => {
  registry = await startRegistry();
  const address = ownAddress();
  const tls = await selfSignedCertificate(await dirs.make(), address);
  certFile = tls.certFile;
  proxy = await startFaultProxy(registry.host, { tls, address });
  untrustedStorage = await startFaultProxy(registry.host, { tls: await selfSignedCertificate(await dirs.make(), address), address });
  const root = await dirs.make();
  const ctx = await dirs.make();
  await writeFile(join(ctx, 'large.bin'), randomBytes(6 * 1024 * 1024));
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY large.bin /\n');
  imageDigest = (await ok(['--root', root, '-q', '--compression', 'none', '-t', 'large', ctx])).stdout.trim();
  await ok(['--root', root, 'push', '-q', 'large', `docker://${registry.host}/tls/large:1`]);
  const inspected = JSON.parse((await ok(['--root', root, 'inspect', 'large'])).stdout) as { manifest: { layers: { digest: string; size: number }[] } };
  layer = inspected.manifest.layers[0]!.digest;
  expect(inspected.manifest.layers[0]!.size).toBeGreaterThan(4 * 1024 * 1024);
});

afterAll(async () => {
  await proxy?.stop();
  await untrustedStorage?.stop();
  await registry?.stop();
  await dirs.cleanup();
});

describe('a large layer pulled over HTTPS', () => {
  it('verifies the registry certificate and the layer, through a redirect to "storage"', async () => {
    proxy.faults.push({ match: (method, path) => method === 'GET' && path.endsWith(`/blobs/${layer}`), action: 'redirect' });
    const store = await dirs.make();
    const r = await ok(['--root', store, 'pull', '-q', `${proxy.host}/tls/large:1`], trusted());
    expect(r.stdout).toBe(`${imageDigest}\n`);
    expect(layerGets().map((q) => q.status)).toEqual([307, 200]);
    await expectStoreIntact(store);
    expect(await readdir(join(store, 'oci', 'blobs', 'sha256'))).toContain(layer.slice('sha256:'.length));
    expect((await tsbuild(['--root', store, 'system', 'check'])).code).toBe(0);
  });

  it('refuses a certificate it cannot verify in one line, and leaves nothing behind', async () => {
    const store = await dirs.make();
    const r = await tsbuild(['--root', store, 'pull', `${proxy.host}/tls/large:1`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/certificate/i);
    expect(JSON.parse((await ok(['--root', store, 'images', '--json'])).stdout)).toEqual([]);
  });

  it('refuses "storage" a redirect points at whose certificate does not verify, and keeps no byte of the layer', async () => {
    proxy.faults.push({ match: (method, path) => method === 'GET' && path.endsWith(`/blobs/${layer}`), action: 'redirect', to: untrustedStorage.host, times: 100 });
    const store = await dirs.make();
    const r = await tsbuild(['--root', store, 'pull', `${proxy.host}/tls/large:1`], trusted());
    proxy.faults.length = 0;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/self-signed certificate/);
    expect(untrustedStorage.requests).toEqual([]);
    expect(await readdir(join(store, 'oci', 'blobs', 'sha256'))).not.toContain(layer.slice('sha256:'.length));
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
  });

  it('with --tls-verify=false takes the certificate unverified, but still every byte of the layer', async () => {
    proxy.faults.push({ match: (method, path) => method === 'GET' && path.endsWith(`/blobs/${layer}`), action: 'cut' });
    const store = await dirs.make();
    const before = layerGets().length;
    const r = await ok(['--root', store, 'pull', '-q', '--tls-verify=false', `${proxy.host}/tls/large:1`]);
    expect(r.stdout).toBe(`${imageDigest}\n`);
    const gets = layerGets().slice(before);
    expect(gets).toHaveLength(2);
    expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    await expectStoreIntact(store);
  });

  it('a layer corrupted on every try fails with a digest error, and no byte of it stays', async () => {
    proxy.faults.push({ match: (method, path) => method === 'GET' && path.endsWith(`/blobs/${layer}`), action: 'corrupt', times: 100 });
    const store = await dirs.make();
    const r = await tsbuild(['--root', store, 'pull', `${proxy.host}/tls/large:1`], trusted());
    proxy.faults.length = 0;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`digest mismatch: expected ${layer}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expectStoreIntact(store);
    expect(await readdir(join(store, 'oci', 'blobs', 'sha256'))).not.toContain(layer.slice('sha256:'.length));
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
  });
});
