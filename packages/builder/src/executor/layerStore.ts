import { createLayer, layerMediaType, type Compression, type Descriptor, type Digest, type LayerEntry, type LocalStore } from '@tsbuild/oci-layout';

/** Writes sorted entries as one layer blob into the store: tar, compress, hash, store in one pass. */
export async function storeLayer(store: LocalStore, entries: LayerEntry[], compression: Compression): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const layer = createLayer(entries.map((entry) => ({ kind: 'entry' as const, entry })), { compression });
  const { digest, size } = await store.layout.putBlob(layer.stream);
  return { descriptor: { mediaType: layerMediaType(compression), digest, size }, diffId: await layer.diffId };
}
