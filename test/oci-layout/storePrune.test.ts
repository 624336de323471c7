import { utimes } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { checkStore, LocalStore, MediaType, type Descriptor } from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

/** An image's blobs in the store with no name pointing at them, written an hour ago (what `rmi` leaves). */
async function unnamedImage(store: LocalStore): Promise<Descriptor> {
  const layer = await store.layout.putBlobBytes(Buffer.alloc(1024, 7));
  const config = await store.layout.putDocument(
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} },
    MediaType.ociConfig,
  );
  const manifest = await store.layout.putDocument(
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [{ mediaType: MediaType.ociLayerTar, ...layer }] },
    MediaType.ociManifest,
  );
  const anHourAgo = new Date(Date.now() - 3600_000);
  for (const d of [layer.digest, config.digest, manifest.digest]) await utimes(store.layout.blobPath(d), anHourAgo, anHourAgo);
  return manifest;
}

describe('prune while a writer holds the store', () => {
  it('never deletes a blob a writer found already stored and is about to name', async () => {
    const root = await dirs.make();
    const writer = await LocalStore.open(root);
    const manifest = await unnamedImage(writer);
    await writer.lease(async () => {
      // A pull of the same image finds every blob stored already and skips them...
      expect(await writer.layout.hasBlob(manifest.digest)).toBe(true);
      // ...while another process prunes: the blobs are older than the pull, and nothing names them yet.
      const pruned = await (await LocalStore.open(root)).prune();
      expect(pruned.blobs).toBe(0);
      await writer.tag(manifest, ['reused']);
    });
    expect((await writer.readImage('reused')).layers).toHaveLength(1);
    expect((await checkStore(writer)).problems).toEqual([]);
  });

  it('deletes them once nobody writes', async () => {
    const store = await LocalStore.open(await dirs.make());
    await unnamedImage(store);
    expect((await store.prune()).blobs).toBe(3);
    expect((await checkStore(store)).problems).toEqual([]);
  });
});
