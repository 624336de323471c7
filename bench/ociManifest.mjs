// Reads an image's manifest straight from an OCI layout's files: the bench's groups need only
// the blob files of one tagged image, not a store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const blobPath = (ociDir, digest) => join(ociDir, 'blobs', ...digest.split(':'));

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** The manifest of the image the layout's index names `ref`. */
export function imageManifest(ociDir, ref) {
  const entry = readJson(join(ociDir, 'index.json')).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!entry) throw new Error(`${ociDir} has no image named ${ref}`);
  return readJson(blobPath(ociDir, entry.digest));
}
