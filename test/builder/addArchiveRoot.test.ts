import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuildOk } from '../helpers/tsbuildCli.js';

// buildah wants lowercase paths in oci: references, which mkdtemp's names are not.
const dir = `/tmp/tsbuild-add-archive-root-${process.pid}`;
const storage = ['--storage-driver', 'vfs', '--root', join(dir, 'buildah'), '--runroot', join(dir, 'buildah-run')];

/** `tar -tv` lines of an OCI layout's only image's layers, with numeric owners and full times. */
async function layerListing(layout: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  const lines: string[] = [];
  for (const layer of manifest.layers) {
    const { stdout } = await run('tar', ['-tvzf', join(layout, 'blobs/sha256', layer.digest.slice(7)), '--numeric-owner', '--full-time'], { env: { ...process.env, TZ: 'UTC' } });
    lines.push(...stdout.trim().split('\n'));
  }
  return lines;
}

beforeAll(async () => {
  await requireTools({ buildah: 'buildah' });
  const payload = join(dir, 'payload');
  await mkdir(join(payload, 'sub'), { recursive: true });
  await writeFile(join(payload, 'sub/f'), 'hi\n');
  await utimes(join(payload, 'sub'), 1_500_000_000, 1_500_000_000);
  await utimes(payload, 1_000_000_000, 1_000_000_000);
  const context = join(dir, 'context');
  await mkdir(context, { recursive: true });
  await run('tar', ['-C', payload, '--owner=1234', '--group=5678', '-czf', join(context, 'vendor.tar.gz'), '.']);
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nADD vendor.tar.gz /opt/vendor/\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ADD of a local archive', () => {
  it('gives the destination directory the archive root\'s owner, mode and mtime, as buildah does', async () => {
    const context = join(dir, 'context');
    await tsbuildOk(['--root', join(dir, 'store'), 'build', '-q', '-t', 'addroot', context]);
    await tsbuildOk(['--root', join(dir, 'store'), 'push', '-q', 'addroot', `oci:${join(dir, 'ours')}:x`]);
    await run('buildah', [...storage, 'bud', '-q', '--isolation', 'chroot', '-t', 'addroot', context]);
    await run('buildah', [...storage, 'push', 'addroot', `oci:${join(dir, 'theirs')}:x`]);

    const vendor = (lines: string[]) => lines.filter((l) => / opt\/vendor\//.test(l));
    const ours = vendor(await layerListing(join(dir, 'ours')));
    expect(ours).toEqual(vendor(await layerListing(join(dir, 'theirs'))));
    expect(ours[0]).toMatch(/^drwxr-xr-x 1234\/5678\s+0 2001-09-09 01:46:40 opt\/vendor\/$/);
  });
});
