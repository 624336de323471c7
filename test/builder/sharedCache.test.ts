import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore, type Digest } from '@tsbuild/oci-layout';
import { importBusybox } from '../helpers/busyboxImage.js';
import { writeContext } from '../helpers/buildCase.js';
import { startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { expectStoreIntact } from '../helpers/storeIntegrity.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild, type CliResult } from '../helpers/tsbuildCli.js';

/**
 * Two stores as two CI runners sharing a build cache through the real
 * docker-registry (and an OCI layout, and an image's inline cache). Every RUN
 * calls a loopback server as it runs: a step that executes leaves a hit there,
 * outside any store, so "no RUN ran" is seen, not inferred.
 */
const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let witness: Server;
let witnessPort = 0;
const ran: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.host);
  witness = createServer((req, res) => {
    ran.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((resolve) => witness.listen(0, '127.0.0.1', resolve));
  witnessPort = (witness.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  await new Promise((resolve) => witness?.close(resolve));
  await dirs.cleanup();
});

/** Which RUN steps called the witness since `mark`. */
function runsSince(mark: number): string[] {
  return ran.slice(mark).map((u) => u.replace(/^\/ran\//, '')).sort();
}

const runStep = (name: string, command: string) => `RUN busybox wget -q -O /dev/null http://127.0.0.1:${witnessPort}/ran/${name} && ${command}`;

/** A builder stage and a final stage that copies from it: mode=min and mode=max differ on the builder. */
function multiStage(): string {
  return [
    'FROM busybox AS builder',
    'COPY a.txt /src/a.txt',
    runStep('builder', 'cp /src/a.txt /built'),
    'FROM busybox',
    'ENV GREETING=hello',
    'COPY --from=builder /built /built',
    'COPY b.txt /b.txt',
    runStep('final', 'cat /built /b.txt > /out'),
    '',
  ].join('\n');
}

function singleStage(): string {
  return ['FROM busybox', 'COPY a.txt /a.txt', runStep('one', 'cat /a.txt > /one'), 'COPY b.txt /b.txt', runStep('two', 'cat /b.txt > /two'), ''].join('\n');
}

/** A fresh runner: its own store with the same busybox base, and its own copy of the context at its own path. */
async function runner(dockerfile: string, files: Record<string, string> = { 'a.txt': 'alpha\n', 'b.txt': 'beta\n' }) {
  const dir = await dirs.make('tsbuild-runner-');
  const root = join(dir, 'store');
  await importBusybox(root);
  const context = join(dir, 'somewhere', 'context');
  await writeContext(context, { ...files, Dockerfile: dockerfile });
  return {
    root,
    context,
    async build(...args: string[]): Promise<CliResult & { digest: string }> {
      const out = await tsbuild(['--root', root, 'build', '--tls-verify=false', '-t', 'app', ...args, context]);
      return { ...out, digest: out.stdout.trim().split('\n').at(-1) ?? '' };
    },
    /** A second runner with an empty store (and the busybox base) and this context copied elsewhere. */
    async clone() {
      const other = await runner(dockerfile, {});
      await cp(context, other.context, { recursive: true, preserveTimestamps: true });
      return other;
    },
  };
}

function ok(out: CliResult): void {
  expect(out.stderr + out.stdout, `exit ${out.code}`).not.toMatch(/tsbuild: error/);
  expect(out.code).toBe(0);
}

describe('step keys', () => {
  it('are the same in two stores with the context at two paths', async () => {
    const dockerfile = ['FROM busybox', 'ARG V=1', 'COPY . /app/', 'RUN --mount=type=bind,source=a.txt,target=/m cat /m > /copied', 'WORKDIR /w', ''].join('\n');
    const a = await runner(dockerfile);
    const b = await a.clone();
    const outA = await a.build('--source-date-epoch', '1700000000');
    const outB = await b.build('--source-date-epoch', '1700000000');
    ok(outA);
    ok(outB);
    const keysA = (await readdir(join(a.root, 'cache', 'steps'))).sort();
    const keysB = (await readdir(join(b.root, 'cache', 'steps'))).sort();
    expect(keysA.length).toBeGreaterThan(3);
    expect(keysB).toEqual(keysA);
    expect(outB.digest).toBe(outA.digest);
  }, 120_000);
});

describe('registry cache', () => {
  it('mode=max: a fresh runner executes no RUN, gets the same digest and downloads only the final image\'s layers', async () => {
    const ref = `${registry.host}/cache/multi:max`;
    const a = await runner(multiStage());
    let mark = ran.length;
    const outA = await a.build('--cache-to', `type=registry,ref=${ref},mode=max`);
    ok(outA);
    expect(runsSince(mark)).toEqual(['builder', 'final']);
    expect(outA.stdout).toContain(`Exported cache`);

    const b = await a.clone();
    mark = ran.length;
    const outB = await b.build('--cache-from', `type=registry,ref=${ref}`);
    ok(outB);
    expect(runsSince(mark)).toEqual([]);
    expect(outB.stdout).not.toMatch(/^\[STEP/m);
    expect(outB.digest).toBe(outA.digest);

    // The builder stage's own layers were hit but never needed: they stay in the registry.
    const storeB = await LocalStore.open(b.root);
    const final = (await storeB.readImage('app')).manifest.layers.map((l) => l.digest);
    for (const digest of final) expect(await storeB.layout.hasBlob(digest)).toBe(true);
    const builderLayers: Digest[] = [];
    for (const name of await readdir(join(a.root, 'cache', 'steps'))) {
      const entry = JSON.parse(await readFile(join(a.root, 'cache', 'steps', name), 'utf8')) as { layer?: { descriptor: { digest: Digest } } };
      if (entry.layer && !final.includes(entry.layer.descriptor.digest)) builderLayers.push(entry.layer.descriptor.digest);
    }
    expect(builderLayers.length).toBeGreaterThan(0);
    for (const digest of builderLayers) expect(await storeB.layout.hasBlob(digest)).toBe(false);

    // One COPY source changed: that step and those after it run again, nothing before.
    await writeFile(join(b.context, 'b.txt'), 'changed\n');
    mark = ran.length;
    const changed = await b.build('--cache-from', `type=registry,ref=${ref}`);
    ok(changed);
    expect(runsSince(mark)).toEqual(['final']);
    expect(changed.digest).not.toBe(outA.digest);

    // Exporting an unchanged build again uploads no blob.
    const before = proxy.requests.length;
    const again = await a.build('--cache-to', `type=registry,ref=${proxy.host}/cache/multi:max,mode=max`);
    ok(again);
    expect(proxy.requests.slice(before).filter((r) => r.method === 'PATCH' || (r.method === 'PUT' && r.path.includes('/blobs/')))).toEqual([]);
  }, 240_000);

  it('mode=min exports the final stage only: the builder stage runs again, the final one does not', async () => {
    const ref = `${registry.host}/cache/multi:min`;
    const a = await runner(multiStage());
    ok(await a.build('--cache-to', `type=registry,ref=${ref}`));
    const b = await a.clone();
    const mark = ran.length;
    const outB = await b.build('--cache-from', `type=registry,ref=${ref}`);
    ok(outB);
    expect(runsSince(mark)).toEqual(['builder']);
  }, 240_000);
});

describe('local and inline caches', () => {
  it('type=local: an OCI layout directory carries the cache', async () => {
    const a = await runner(singleStage());
    const cacheDir = join(await dirs.make('tsbuild-localcache-'), 'cache');
    const outA = await a.build('--cache-to', `type=local,dest=${cacheDir},mode=max`);
    ok(outA);
    const b = await a.clone();
    const mark = ran.length;
    const outB = await b.build('--cache-from', `type=local,src=${cacheDir}`);
    ok(outB);
    expect(runsSince(mark)).toEqual([]);
    expect(outB.digest).toBe(outA.digest);
  }, 240_000);

  it('type=inline: the pushed image seeds the cache of the next runner', async () => {
    const a = await runner(singleStage());
    const outA = await a.build('--cache-to', 'type=inline');
    ok(outA);
    const image = `${registry.host}/inline/app:1`;
    ok(await tsbuild(['--root', a.root, 'push', '--tls-verify=false', 'app', `docker://${image}`]));
    const b = await a.clone();
    let mark = ran.length;
    const outB = await b.build('--cache-from', `type=registry,ref=${image}`, '--cache-to', 'type=inline');
    ok(outB);
    expect(runsSince(mark)).toEqual([]);
    expect(outB.digest).toBe(outA.digest);

    await writeFile(join(b.context, 'b.txt'), 'changed\n');
    mark = ran.length;
    ok(await b.build('--cache-from', `type=registry,ref=${image}`));
    expect(runsSince(mark)).toEqual(['two']);
  }, 240_000);
});

describe('a cache that cannot be used', () => {
  it.each([401, 404, 500])('a cache ref answered with %i is a warning and the build goes on cold', async (status) => {
    const a = await runner(singleStage());
    proxy.faults.push({ match: (_method, path) => path.includes(`/cache/fault${status}/`), action: 'status', status, times: 1000 });
    const mark = ran.length;
    const out = await a.build('--cache-from', `type=registry,ref=${proxy.host}/cache/fault${status}:x`);
    ok(out);
    expect(out.stderr).toMatch(new RegExp(`WARNING: cache from registry ${proxy.host}/cache/fault${status}:x not used: .*${status}`));
    expect(runsSince(mark)).toEqual(['one', 'two']);
  }, 240_000);

  it('an image without cache metadata is a warning', async () => {
    const a = await runner(singleStage());
    const image = `${registry.host}/plain/app:1`;
    ok(await a.build());
    ok(await tsbuild(['--root', a.root, 'push', '--tls-verify=false', 'app', `docker://${image}`]));
    const b = await a.clone();
    const mark = ran.length;
    const out = await b.build('--cache-from', `type=registry,ref=${image}`);
    ok(out);
    expect(out.stderr).toMatch(/WARNING: cache from registry .* not used: the image names no tsbuild cache/);
    expect(runsSince(mark)).toEqual(['one', 'two']);
  }, 240_000);

  it('a corrupted cache layer is refused by its digest and its step built again', async () => {
    const ref = `${registry.host}/cache/corrupt:1`;
    const a = await runner(singleStage());
    ok(await a.build('--cache-to', `type=registry,ref=${ref}`));
    const last = (await (await LocalStore.open(a.root)).readImage('app')).manifest.layers.at(-1)!.digest;
    proxy.faults.push({ match: (method, path) => method === 'GET' && path === `/v2/cache/corrupt/blobs/${last}`, action: 'corrupt', times: 1000 });
    const b = await a.clone();
    const mark = ran.length;
    const out = await b.build('--cache-from', `type=registry,ref=${proxy.host}/cache/corrupt:1`);
    ok(out);
    expect(out.stderr).toContain(`WARNING: cache layer ${last}`);
    expect(runsSince(mark)).toEqual(['two']);
    // Built again within the second the refused layer was, its layer can be byte-identical to it (tar keeps whole-second
    // times): what must hold is that no corrupted byte was kept, and that the image has its layer.
    await expectStoreIntact(b.root);
    const layers = async (root: string) => (await (await LocalStore.open(root)).readImage('app')).manifest.layers.length;
    expect(await layers(b.root)).toBe(await layers(a.root));
  }, 240_000);
});

describe('large cache layers', () => {
  it('a cache layer of several MiB is fetched into the store verified, and refused by its digest when it arrives damaged', async () => {
    const ref = `${registry.host}/cache/large:1`;
    // Random bytes do not compress: the layer stays above the size that is downloaded straight into a file.
    const a = await runner(['FROM busybox', 'COPY a.txt /a.txt', runStep('big', 'head -c 6291456 /dev/urandom > /big'), ''].join('\n'));
    const built = await a.build('--cache-to', `type=registry,ref=${ref}`);
    ok(built);
    const big = (await (await LocalStore.open(a.root)).readImage('app')).manifest.layers.at(-1)!;
    expect(big.size).toBeGreaterThan(6_000_000);

    const b = await a.clone();
    let mark = ran.length;
    const hit = await b.build('--cache-from', `type=registry,ref=${ref}`);
    ok(hit);
    expect(runsSince(mark)).toEqual([]);
    expect(hit.digest).toBe(built.digest);

    proxy.faults.push({ match: (method, path) => method === 'GET' && path === `/v2/cache/large/blobs/${big.digest}`, action: 'corrupt', times: 1000 });
    const c = await a.clone();
    mark = ran.length;
    const refused = await c.build('--cache-from', `type=registry,ref=${proxy.host}/cache/large:1`);
    ok(refused);
    expect(refused.stderr).toContain(`WARNING: cache layer ${big.digest}`);
    expect(runsSince(mark)).toEqual(['big']);
    expect(await readdir(join(c.root, 'tmp'))).toEqual([]);
  }, 240_000);
});

describe('concurrent exports', () => {
  it('two runners exporting to one ref at once leave a cache a third one uses', async () => {
    const ref = `${registry.host}/cache/race:1`;
    const first = await runner(singleStage());
    const second = await first.clone();
    const [one, two] = await Promise.all([first.build('--cache-to', `type=registry,ref=${ref},mode=max`), second.build('--cache-to', `type=registry,ref=${ref},mode=max`)]);
    ok(one);
    ok(two);
    const third = await first.clone();
    const mark = ran.length;
    const out = await third.build('--cache-from', `type=registry,ref=${ref}`);
    ok(out);
    expect(runsSince(mark)).toEqual([]);
    expect([one.digest, two.digest]).toContain(out.digest);
  }, 240_000);
});
