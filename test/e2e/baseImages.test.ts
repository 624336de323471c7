import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { startFaultProxy, startRegistry } from '../helpers/registryHarness.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let source: string;
let registry: Awaited<ReturnType<typeof startRegistry>>;

beforeAll(async () => {
  await requireTools({ runc: 'runc', skopeo: 'skopeo' });
  source = await dirs.make();
  await importBusybox(source);
  registry = await startRegistry();
  const pushed = await tsbuild(['--root', source, 'push', 'busybox', `docker://${registry.host}/base/busybox:1`]);
  expect(pushed.stderr).toBe('');
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

async function contextWith(dockerfile: string): Promise<string> {
  const dir = await dirs.make();
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** A file of an image in the store at `root`, read from the image unpacked as a bundle. */
async function readFromImage(root: string, image: string, path: string): Promise<string> {
  const bundle = join(await dirs.make(), 'b');
  expect((await tsbuild(['--root', root, 'bundle', image, bundle])).code).toBe(0);
  return (await run('cat', [join(bundle, 'rootfs', path)])).stdout;
}

describe('base images from elsewhere', () => {
  it('FROM a registry image pulls it once, keeps it in the store under its full name, and RUN works on it', async () => {
    const root = await dirs.make();
    const ctx = await contextWith(`FROM ${registry.host}/base/busybox:1\nRUN echo pulled > /proof\nCOPY --from=${registry.host}/base/busybox:1 /etc/passwd /copied-passwd\n`);
    const first = await tsbuild(['--root', root, '-t', 'on-pulled', ctx]);
    expect(first.stderr).toBe('');
    expect(first.stdout.match(/^Pulling /gm)).toHaveLength(1);
    const names = JSON.parse((await tsbuild(['--root', root, 'images', '--json'])).stdout).map((i: { name: string }) => i.name);
    expect(names).toEqual([`${registry.host}/base/busybox:1`, 'localhost/on-pulled:latest']);
    const again = await tsbuild(['--root', root, '-t', 'on-pulled', ctx]);
    expect(again.stdout).not.toContain('Pulling');
    expect(await readFromImage(root, 'on-pulled', 'proof')).toBe('pulled\n');
  });

  it('FROM oci:DIR:REF and docker-archive:FILE read the image in place', async () => {
    const layout = join(await dirs.make(), 'layout');
    await run('skopeo', ['copy', `oci:${source}/oci:localhost/busybox:latest`, `oci:${layout}:bb`]);
    const archive = join(await dirs.make(), 'bb.tar');
    await run('skopeo', ['copy', `oci:${source}/oci:localhost/busybox:latest`, `docker-archive:${archive}:busybox:latest`]);
    for (const from of [`oci:${layout}:bb`, `docker-archive:${archive}`]) {
      const root = await dirs.make();
      const out = await tsbuild(['--root', root, '-q', '-t', 'from-file', await contextWith(`FROM ${from}\nRUN echo ok > /ok\n`)]);
      expect(out.stderr, from).toBe('');
      expect(await readFromImage(root, 'from-file', 'ok')).toBe('ok\n');
      await run('skopeo', ['inspect', `oci:${root}/oci:localhost/from-file:latest`]);
    }
  });

  it('a base layer that arrives damaged fails the build at FROM in one line, after the steps ran on its manifest, and names nothing', async () => {
    const proxy = await startFaultProxy(registry.host);
    try {
      // The layers download while the steps work out their keys; the damage shows when the RUN needs the layer.
      const manifest = await fetch(`http://${registry.host}/v2/base/busybox/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const layers = ((await manifest.json()) as { layers: { digest: string }[] }).layers.map((l) => `/v2/base/busybox/blobs/${l.digest}`);
      proxy.faults.push({ match: (method, path) => method === 'GET' && layers.includes(path), action: 'corrupt', times: 1000 });
      const root = await dirs.make();
      const out = await tsbuild(['--root', root, '-t', 'on-damaged', await contextWith(`FROM ${proxy.host}/base/busybox:1\nENV A=1\nRUN echo never > /never\n`)]);
      expect(out.code).toBe(1);
      expect(out.stdout).toMatch(/STEP 3\/3: RUN echo never/);
      expect(out.stderr).toMatch(/^tsbuild: error: [^\n]*Dockerfile:1:1: FROM: base image "[^"]+busybox:1": blob digest mismatch[^\n]*\n$/);
      expect(JSON.parse((await tsbuild(['--root', root, 'images', '--json'])).stdout)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('a base image that is nowhere is a clear error naming FROM and the line', async () => {
    const root = await dirs.make();
    const out = await tsbuild(['--root', root, '-t', 'x', await contextWith(`FROM ${registry.host}/nothing/here:1\n`)]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/Dockerfile:1:1: FROM: base image ".*nothing\/here:1": .*(MANIFEST_UNKNOWN|NAME_UNKNOWN)/);
  });
});
