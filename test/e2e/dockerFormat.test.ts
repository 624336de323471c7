import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { cliOnRoot, removeAllContainers } from '../helpers/containerRoot.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { requireTools, run } from '../helpers/tools.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree } from '../helpers/treeFacts.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const dirs = tempDirs();
let root: string;
let context: string;
let registry: Awaited<ReturnType<typeof startRegistry>>;
const { ts, tsOk } = cliOnRoot(() => root);

interface Descriptor { mediaType: string; digest: string; size: number }
interface RawManifest { mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }
interface Inspected {
  digest: string;
  manifestType: string;
  manifest: RawManifest;
  config: { rootfs: { diff_ids: string[] } };
}

const sha256 = (bytes: string | Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const skopeo = async (...args: string[]) => (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
const inspect = async (ref: string) => JSON.parse((await tsOk('inspect', ref)).stdout) as Inspected;
const remote = (tag: string) => `${registry.host}/team/app:${tag}`;
/** Builds the context in `format` (none: the default) and pushes it to the registry as team/app:TAG. */
const buildAndPush = async (tag: string, format?: string) =>
  (await tsOk('build', '-q', ...(format ? ['--format', format] : []), '--push', '--tls-verify=false', '-t', remote(tag), context)).stdout.trim();

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo', umoci: 'umoci', runc: 'runc', conmon: 'conmon' });
  registry = await startRegistry();
  root = await dirs.make();
  context = await dirs.make();
  await importBusybox(root);
  await writeFile(join(context, 'hello.txt'), 'hello from a docker-format image\n');
  await writeFile(
    join(context, 'Dockerfile'),
    [
      'FROM busybox',
      'COPY hello.txt /hello.txt',
      'SHELL ["/bin/sh", "-c"]',
      'HEALTHCHECK --interval=5s CMD ["/bin/true"]',
      'ONBUILD RUN echo triggered',
      'CMD ["cat", "/hello.txt"]',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await removeAllContainers(root);
  await registry?.stop();
  await dirs.cleanup();
});

describe('build --format docker', () => {
  it('pushes Docker schema2 with the store\'s config and layer blobs, while the store keeps an OCI manifest skopeo reads', async () => {
    const stored = await buildAndPush('docker', 'docker');
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${remote('docker')}`);
    const manifest = JSON.parse(raw) as RawManifest;
    expect(manifest.mediaType).toBe(DOCKER_MANIFEST);
    expect(manifest.config.mediaType).toBe(DOCKER_CONFIG);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([DOCKER_LAYER_GZIP, DOCKER_LAYER_GZIP]);
    expect(manifest.annotations).toBeUndefined();

    const local = await inspect(remote('docker'));
    expect(local.digest).toBe(stored);
    expect(local.manifestType).toBe(DOCKER_MANIFEST);
    expect(local.manifest.mediaType).toBe(OCI_MANIFEST);
    expect(manifest.config.digest).toBe(local.manifest.config.digest);
    expect(manifest.layers.map((l) => [l.digest, l.size])).toEqual(local.manifest.layers.map((l) => [l.digest, l.size]));

    const configBytes = await skopeo('inspect', '--config', '--raw', '--tls-verify=false', `docker://${remote('docker')}`);
    expect(sha256(configBytes)).toBe(manifest.config.digest);
    expect((JSON.parse(configBytes) as Inspected['config']).rootfs.diff_ids).toEqual(local.config.rootfs.diff_ids);

    const inStore = JSON.parse(await skopeo('inspect', `oci:${root}/oci:${remote('docker')}`)) as { Digest: string };
    expect(inStore.Digest).toBe(stored);

    // A later push of the stored image writes the very same schema2 manifest, and -q prints its digest.
    const pushed = (await tsOk('push', '-q', '--tls-verify=false', remote('docker'), `docker://${remote('again')}`)).stdout.trim();
    expect(pushed).toBe(sha256(raw));
    expect(await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${remote('again')}`)).toBe(raw);
  });

  it('skopeo copies the schema2 image back; it unpacks to the same tree as the store\'s and runs', async () => {
    await buildAndPush('back', 'docker');
    const dir = await dirs.make();
    await skopeo('copy', '--src-tls-verify=false', `docker://${remote('back')}`, `oci:${join(dir, 'layout')}:back`);
    await run('umoci', ['unpack', '--image', `${join(dir, 'layout')}:back`, join(dir, 'copied')]);
    await run('umoci', ['unpack', '--image', `${root}/oci:${remote('back')}`, join(dir, 'stored')]);
    const copied = await describeTree(join(dir, 'copied', 'rootfs'));
    expect(copied['hello.txt']).toBeDefined();
    expect(copied).toEqual(await describeTree(join(dir, 'stored', 'rootfs')));

    await tsOk('copy', '--tls-verify=false', `docker://${remote('back')}`, 'pulled-back');
    expect((await tsOk('run', '--rm', '--network', 'none', 'pulled-back')).stdout).toBe('hello from a docker-format image\n');
  });

  it('save writes a docker archive whose index names the schema2 manifest; skopeo and load read it', async () => {
    await tsOk('build', '-q', '--format', 'docker', '-t', 'saved', context);
    const local = await inspect('saved');
    const file = join(await dirs.make(), 'saved.tar');
    await tsOk('save', '-o', file, 'saved');
    const index = JSON.parse((await run('tar', ['-xOf', file, 'index.json'])).stdout) as { manifests: Descriptor[] };
    expect(index.manifests.map((m) => m.mediaType)).toEqual([DOCKER_MANIFEST]);
    const repoTags = JSON.parse((await run('tar', ['-xOf', file, 'manifest.json'])).stdout) as { RepoTags: string[] }[];
    expect(repoTags.map((e) => e.RepoTags)).toEqual([['localhost/saved:latest']]);
    const viaSkopeo = JSON.parse(await skopeo('inspect', '--raw', `docker-archive:${file}`)) as RawManifest;
    expect(viaSkopeo.config.digest).toBe(local.manifest.config.digest);
    const fresh = await dirs.make();
    const loaded = await cliOnRoot(() => fresh).tsOk('load', '-i', file);
    expect(loaded.stdout).toBe('Loaded image: localhost/saved:latest\n');
  });

  it('is refused with --compression zstd, which Docker schema2 cannot list, before anything is built', async () => {
    const before = (await tsOk('images', '-q')).stdout;
    const refused = await ts('build', '--format', 'docker', '--compression', 'zstd', '-t', 'never', context);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe('tsbuild: error: --compression zstd cannot be used with --format docker: Docker schema2 layers are gzip or uncompressed\n');
    expect((await tsOk('images', '-q')).stdout).toBe(before);
  });
});

describe('build --format oci (the default)', () => {
  it('pushes the stored OCI manifest unchanged, with no format annotation', async () => {
    const stored = await buildAndPush('oci');
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${remote('oci')}`);
    expect(sha256(raw)).toBe(stored);
    const manifest = JSON.parse(raw) as RawManifest;
    expect(manifest.mediaType).toBe(OCI_MANIFEST);
    expect(manifest.annotations).toBeUndefined();
    expect((await inspect(remote('oci'))).manifestType).toBe(OCI_MANIFEST);
  });
});

describe('HEALTHCHECK, SHELL and ONBUILD', () => {
  it('stay in the config in both formats (as BuildKit keeps them; buildah drops them from OCI images)', async () => {
    await buildAndPush('fields-docker', 'docker');
    await buildAndPush('fields-oci', 'oci');
    expect((JSON.parse(await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${remote('fields-oci')}`)) as RawManifest).mediaType).toBe(OCI_MANIFEST);
    for (const tag of ['fields-docker', 'fields-oci']) {
      const config = JSON.parse(await skopeo('inspect', '--config', '--raw', '--tls-verify=false', `docker://${remote(tag)}`)) as { config: Record<string, unknown> };
      expect(config.config.Healthcheck).toEqual({ Test: ['CMD', '/bin/true'], Interval: 5_000_000_000 });
      expect(config.config.Shell).toEqual(['/bin/sh', '-c']);
      expect(config.config.OnBuild).toEqual(['RUN echo triggered']);
    }
  });
});
