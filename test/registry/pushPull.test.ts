import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let root: string;
let digest: string;

async function skopeoInspect(ref: string): Promise<{ Digest: string; Layers: string[] }> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', ref]);
  return JSON.parse(stdout) as { Digest: string; Layers: string[] };
}

/** A small image built from random files, so every run pushes blobs the registry has never seen. */
async function buildSample(store: string, name: string): Promise<string> {
  const ctx = await dirs.make();
  await writeFile(join(ctx, 'a.bin'), randomBytes(3000));
  await writeFile(join(ctx, 'b.txt'), `hello ${name}\n`);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.bin /a.bin\nCOPY b.txt /etc/b.txt\nCMD ["/a.bin"]\n');
  const r = await ok(['--root', store, '-q', '-t', name, ctx]);
  return r.stdout.trim();
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  registry = await startRegistry();
  root = await dirs.make();
  digest = await buildSample(root, 'sample');
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('push, pull and copy against docker-registry', () => {
  it('push: skopeo sees our digest and copies back the identical manifest bytes', async () => {
    const dest = `docker://${registry.host}/team/sample:v1`;
    const pushed = await ok(['--root', root, 'push', 'sample', dest]);
    const lines = pushed.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(digest);
    expect(lines.filter((l) => l.startsWith('Copying blob ')).length).toBe(2);
    expect((await skopeoInspect(dest)).Digest).toBe(digest);

    const layout = join(await dirs.make(), 'layout');
    await run('skopeo', ['copy', '--src-tls-verify=false', dest, `oci:${layout}:copy`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests[0]!.digest).toBe(digest);
    const ours = await readFile(join(root, 'oci', 'blobs', 'sha256', digest.slice(7)));
    const theirs = await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)));
    expect(theirs.equals(ours)).toBe(true);
  });

  it('push again: every blob is already there, nothing is uploaded; -q prints only the digest', async () => {
    const again = await ok(['--root', root, 'push', '-q', 'sample', `docker://${registry.host}/team/sample:v1`]);
    expect(again.stdout).toBe(`${digest}\n`);
    const verbose = await ok(['--root', root, 'push', 'sample', `docker://${registry.host}/team/sample:v1`]);
    expect(verbose.stdout).toContain('skipped: already exists');
    expect(verbose.stdout).not.toMatch(/ done\n/);
  });

  it('pull: an image skopeo pushed arrives with the same digest and bundles', async () => {
    const other = await dirs.make();
    const otherDigest = await buildSample(other, 'fromskopeo');
    const dest = `docker://${registry.host}/skopeo/pushed:latest`;
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${join(other, 'oci')}:localhost/fromskopeo:latest`, dest]);
    const pushedDigest = (await skopeoInspect(dest)).Digest;
    expect(pushedDigest).toBe(otherDigest);

    const fresh = await dirs.make();
    const pulled = await ok(['--root', fresh, 'pull', `${registry.host}/skopeo/pushed`]);
    expect(pulled.stdout.trim().split('\n').at(-1)).toBe(pushedDigest);
    expect(pulled.stdout).toContain(`Stored as ${registry.host}/skopeo/pushed:latest`);
    const images = JSON.parse((await ok(['--root', fresh, 'images', '--json'])).stdout) as { name: string; digest: string }[];
    expect(images).toContainEqual(expect.objectContaining({ name: `${registry.host}/skopeo/pushed:latest`, digest: pushedDigest }));

    const bundle = join(await dirs.make(), 'bundle');
    await ok(['--root', fresh, 'bundle', `${registry.host}/skopeo/pushed`, bundle]);
    expect((await stat(join(bundle, 'rootfs', 'a.bin'))).size).toBe(3000);
    expect(await readFile(join(bundle, 'rootfs', 'etc', 'b.txt'), 'utf8')).toBe('hello fromskopeo\n');

    const twice = await ok(['--root', fresh, 'pull', `docker://${registry.host}/skopeo/pushed:latest`]);
    expect(twice.stdout).not.toMatch(/ done\n/);
    expect(twice.stdout.trim().split('\n').at(-1)).toBe(pushedDigest);
  });

  it('pull by digest stores the image under its digest reference', async () => {
    const fresh = await dirs.make();
    const r = await ok(['--root', fresh, 'pull', '-q', `${registry.host}/team/sample@${digest}`]);
    expect(r.stdout).toBe(`${digest}\n`);
    const images = JSON.parse((await ok(['--root', fresh, 'images', '--json'])).stdout) as { digest: string }[];
    expect(images.map((i) => i.digest)).toContain(digest);
  });

  it('copy to an oci: directory that skopeo reads, and back into a store with the same digest', async () => {
    const layout = join(await dirs.make(), 'out');
    await ok(['--root', root, 'copy', 'sample', `oci:${layout}:mytag`]);
    expect((await skopeoInspect(`oci:${layout}:mytag`)).Digest).toBe(digest);
    const fresh = await dirs.make();
    const back = await ok(['--root', fresh, 'copy', '-q', `oci:${layout}:mytag`, 'roundtrip']);
    expect(back.stdout).toBe(`${digest}\n`);
  });

  it('copy registry -> oci-archive -> registry keeps the digest; skopeo reads the archive', async () => {
    const archive = join(await dirs.make(), 'image.tar');
    await ok(['--root', root, 'copy', `docker://${registry.host}/team/sample:v1`, `oci-archive:${archive}:v1`]);
    expect((await skopeoInspect(`oci-archive:${archive}:v1`)).Digest).toBe(digest);
    const r = await ok(['--root', root, 'copy', '-q', `oci-archive:${archive}:v1`, `docker://${registry.host}/archived/sample:v1`]);
    expect(r.stdout).toBe(`${digest}\n`);
    expect((await skopeoInspect(`docker://${registry.host}/archived/sample:v1`)).Digest).toBe(digest);
  });

  it('copy to a docker-archive that skopeo reads, and from it into the store', async () => {
    const archive = join(await dirs.make(), 'saved.tar');
    await ok(['--root', root, 'copy', 'sample', `docker-archive:${archive}:sample:latest`]);
    const inspected = await skopeoInspect(`docker-archive:${archive}`);
    const ours = JSON.parse((await ok(['--root', root, 'inspect', 'sample'])).stdout) as { config: { rootfs: { diff_ids: string[] } } };
    // skopeo names docker-archive layers by their uncompressed digests
    expect(inspected.Layers).toEqual(ours.config.rootfs.diff_ids);
    const unpacked = join(await dirs.make(), 'layout');
    await run('skopeo', ['copy', `docker-archive:${archive}`, `oci:${unpacked}:x`]);
    const fresh = await dirs.make();
    await ok(['--root', fresh, 'copy', `docker-archive:${archive}`, 'loaded']);
    const bundle = join(await dirs.make(), 'bundle');
    await ok(['--root', fresh, 'bundle', 'loaded', bundle]);
    expect((await stat(join(bundle, 'rootfs', 'a.bin'))).size).toBe(3000);
  });

  it('reads a docker-archive that skopeo wrote', async () => {
    const archive = join(await dirs.make(), 'skopeo.tar');
    await run('skopeo', ['copy', `oci:${join(root, 'oci')}:localhost/sample:latest`, `docker-archive:${archive}:skopeo/sample:1`]);
    const fresh = await dirs.make();
    await ok(['--root', fresh, 'copy', `docker-archive:${archive}:skopeo/sample:1`, 'fromarchive']);
    const bundle = join(await dirs.make(), 'bundle');
    await ok(['--root', fresh, 'bundle', 'fromarchive', bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'etc', 'b.txt'), 'utf8')).toBe('hello sample\n');
  });

  it('zstd and uncompressed layers keep their digests both ways', async () => {
    for (const compression of ['zstd', 'none']) {
      const ctx = await dirs.make();
      await writeFile(join(ctx, 'data'), randomBytes(5000));
      await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY data /data\n');
      const built = (await ok(['--root', root, '-q', '--compression', compression, '-t', `comp-${compression}`, ctx])).stdout.trim();
      const dest = `docker://${registry.host}/comp/${compression}:1`;
      expect((await ok(['--root', root, 'push', '-q', `comp-${compression}`, dest])).stdout).toBe(`${built}\n`);
      expect((await skopeoInspect(dest)).Digest).toBe(built);
      const fresh = await dirs.make();
      expect((await ok(['--root', fresh, 'pull', '-q', dest])).stdout).toBe(`${built}\n`);
      const bundle = join(await dirs.make(), 'bundle');
      await ok(['--root', fresh, 'bundle', `${registry.host}/comp/${compression}:1`, bundle]);
      expect((await stat(join(bundle, 'rootfs', 'data'))).size).toBe(5000);
    }
  });

  it('draws a progress bar per blob on a terminal', async () => {
    const layout = join(await dirs.make(), 'tty');
    const cmd = [process.execPath, TSBUILD_BIN, '--root', root, 'copy', 'sample', `oci:${layout}:x`].map((a) => `'${a}'`).join(' ');
    const { stdout } = await run('script', ['-qec', cmd, '/dev/null']);
    expect(stdout).toMatch(/Copying blob [0-9a-f]{12} \[=+\] \S+ \/ \S+ done/);
    expect(stdout).toMatch(/Copying config [0-9a-f]{12} \[=+\]/);
    expect(stdout.trim().split('\n').at(-1)!.trim()).toBe(digest);
  });

  it('errors name the registry error code and the URL', async () => {
    const r = await tsbuild(['--root', root, 'pull', `${registry.host}/no/such:image`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN/);
    expect(r.stderr).toContain(`http://${registry.host}/v2/no/such/manifests/image`);
  });
});
