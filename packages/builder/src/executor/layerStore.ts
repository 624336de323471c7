import {
  createLayer, layerMediaType, readLayer,
  type Compression, type Descriptor, type Digest, type Image, type LayerEntry, type LocalStore,
} from '@tsbuild/oci-layout';
import type { ImageFilesystem } from './imageFilesystem.js';

/** Writes sorted entries as one layer blob into the store: tar, compress, hash, store in one pass. */
export async function storeLayer(store: LocalStore, entries: LayerEntry[], compression: Compression): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const layer = createLayer(entries.map((entry) => ({ kind: 'entry' as const, entry })), { compression });
  const { digest, size } = await store.layout.putBlob(layer.stream);
  return { descriptor: { mediaType: layerMediaType(compression), digest, size }, diffId: await layer.diffId };
}

/** Reads a base image's layers once to learn its file tree (metadata only). */
export async function loadFilesystem(image: Image, fs: ImageFilesystem): Promise<void> {
  for (const layer of image.layers) {
    const blob = await layer.open();
    await fs.applyLayer(readLayer(blob));
  }
}
