import {
  copyImage, createLayer, imageDescriptor, layerMediaType, OciLayoutDestination,
  type Compression, type Descriptor, type Digest, type Image, type LayerChange, type LayerEntry, type LocalStore,
} from '@tsbuild/oci-layout';

/**
 * Writes sorted changes as one layer blob into the store: tar, compress, hash, store in one pass.
 * gzip takes the members of earlier layers whose input is the same, and the new layer's are remembered.
 */
export async function storeChanges(store: LocalStore, changes: Iterable<LayerChange>, compression: Compression): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const reuse = compression === 'gzip' ? store.gzipMembers : undefined;
  const layer = createLayer(changes, { compression, reuse });
  const { digest, size } = await store.layout.putBlob(layer.stream);
  await reuse?.record(digest, layer.members());
  return { descriptor: { mediaType: layerMediaType(compression), digest, size }, diffId: await layer.diffId };
}

/** A layer that only adds entries (no whiteouts), as COPY and WORKDIR make. */
export function storeLayer(store: LocalStore, entries: Iterable<LayerEntry>, compression: Compression): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  return storeChanges(store, asChanges(entries), compression);
}

function* asChanges(entries: Iterable<LayerEntry>): Generator<LayerChange> {
  for (const entry of entries) yield { kind: 'entry', entry };
}

/**
 * Writes an image into the store by the copy loop every destination shares
 * (its layers are there already, so only config and manifest are new) and
 * returns the descriptor its index entries take; naming it is the caller's.
 */
export async function storeImage(store: LocalStore, image: Image): Promise<Descriptor> {
  await copyImage(image, new OciLayoutDestination(store.layout, async () => undefined));
  return imageDescriptor(image);
}
