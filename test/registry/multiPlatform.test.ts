import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let root: string;
let layout: string;
let amd64: string;
let arm64: string;
let indexDigest: string;

beforeAll(async () => {
  registry = await startRegistry();
  root = await dirs.make();
  amd64 = await buildRandomImage(root, 'plat-amd64', await dirs.make(), 1500);
  arm64 = await buildRandomImage(root, 'plat-arm64', await dirs.make(), 1500);
  layout = join(await dirs.make(), 'layout');
  await ok(['--root', root, 'copy', '-q', 'plat-amd64', `oci:${layout}:a`]);
  await ok(['--root', root, 'copy', '-q', 'plat-arm64', `oci:${layout}:b`]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] };
  const entry = (d: string) => index.manifests.find((m) => m.digest === d)!;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: entry(amd64).mediaType, digest: amd64, size: entry(amd64).size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: entry(arm64).mediaType, digest: arm64, size: entry(arm64).size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    }),
  );
  const hex = createHash('sha256').update(bytes).digest('hex');
  indexDigest = `sha256:${hex}`;
  await writeFile(join(layout, 'blobs', 'sha256', hex), bytes);
  index.manifests.push({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('multi-platform images and registry commands', () => {
  it('copy --all pushes the whole index with its digest unchanged', async () => {
    const r = await ok(['--root', root, 'copy', '-q', '--all', `oci:${layout}:multi`, `docker://${registry.host}/multi/img:1`]);
    expect(r.stdout).toBe(`${indexDigest}\n`);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/multi/img:1`]);
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(indexDigest);
  });

  it('pull picks --platform, or this machine\'s platform by default', async () => {
    const store = await dirs.make();
    expect((await ok(['--root', store, 'pull', '-q', '--platform', 'linux/arm64', `${registry.host}/multi/img:1`])).stdout).toBe(`${arm64}\n`);
    const native = process.arch === 'arm64' ? arm64 : amd64;
    expect((await ok(['--root', store, 'pull', '-q', `${registry.host}/multi/img:1`])).stdout).toBe(`${native}\n`);
    const r = await tsbuild(['--root', store, 'pull', '--platform', 'linux/s390x', `${registry.host}/multi/img:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no image for platform linux/s390x in the index (it has: linux/amd64, linux/arm64/v8)');
  });

  it('copy --all from the registry into an OCI layout that skopeo reads', async () => {
    const out = join(await dirs.make(), 'out');
    await ok(['--root', root, 'copy', '--all', `docker://${registry.host}/multi/img:1`, `oci:${out}:m`]);
    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${out}:m`]);
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(indexDigest);
    const single = join(await dirs.make(), 'single');
    await run('skopeo', ['copy', '--override-arch', 'arm64', `oci:${out}:m`, `oci:${single}:x`]);
    const copied = JSON.parse(await readFile(join(single, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(copied.manifests[0]!.digest).toBe(arm64);
  });

  it('copies an index nested in an index, and picks a platform through it', async () => {
    const inner = (await readFile(join(layout, 'blobs', 'sha256', indexDigest.slice(7)))).length;
    const outer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: inner }] }));
    const hex = createHash('sha256').update(outer).digest('hex');
    await writeFile(join(layout, 'blobs', 'sha256', hex), outer);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: unknown[] };
    index.manifests.push({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${hex}`, size: outer.length, annotations: { 'org.opencontainers.image.ref.name': 'nested' } });
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    expect((await ok(['--root', root, 'copy', '-q', '--all', `oci:${layout}:nested`, `docker://${registry.host}/nested/img:1`])).stdout).toBe(`sha256:${hex}\n`);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/nested/img:1`]);
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(`sha256:${hex}`);
    const store = await dirs.make();
    expect((await ok(['--root', store, 'pull', '-q', '--platform', 'linux/arm64', `${registry.host}/nested/img:1`])).stdout).toBe(`${arm64}\n`);
  });

  it('tags lists every tag; inspect docker:// shows manifest and config without pulling', async () => {
    await ok(['--root', root, 'push', '-q', 'plat-amd64', `docker://${registry.host}/multi/img:2`]);
    const tags = await ok(['tags', `docker://${registry.host}/multi/img`]);
    expect(tags.stdout.trim().split('\n').sort()).toEqual(['1', '2']);
    const inspected = JSON.parse((await ok(['inspect', '--platform', 'linux/arm64', `docker://${registry.host}/multi/img:1`])).stdout) as { digest: string; config: { rootfs: { diff_ids: string[] } } };
    expect(inspected.digest).toBe(arm64);
    expect(inspected.config.rootfs.diff_ids).toHaveLength(1);
  });

  it('delete removes a manifest from the registry', async () => {
    await ok(['--root', root, 'push', '-q', 'plat-amd64', `docker://${registry.host}/doomed/img:1`]);
    const r = await ok(['delete', `docker://${registry.host}/doomed/img:1`]);
    expect(r.stdout).toBe(`Deleted ${amd64}\n`);
    const gone = await tsbuild(['inspect', `docker://${registry.host}/doomed/img:1`]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('MANIFEST_UNKNOWN');
  });
});
