import { writeFile } from 'node:fs/promises';
import type { Descriptor, LocalStore } from '@tsbuild/oci-layout';

/**
 * What buildx writes to `--metadata-file` for an image: the manifest digest,
 * the config digest, the manifest's descriptor and the names, comma-separated
 * (left out for an untagged build, as buildx leaves it out without -t).
 */
export interface BuildMetadata {
  'containerimage.digest': string;
  'containerimage.config.digest': string;
  'containerimage.descriptor': Descriptor;
  'image.name'?: string;
}

async function buildMetadata(store: LocalStore, image: Descriptor, names: string[]): Promise<BuildMetadata> {
  const { manifest } = await store.layout.readImage(image);
  return {
    'containerimage.digest': image.digest,
    'containerimage.config.digest': manifest.config.digest,
    'containerimage.descriptor': { mediaType: image.mediaType, digest: image.digest, size: image.size },
    ...(names.length > 0 ? { 'image.name': names.join(',') } : {}),
  };
}

/**
 * `--iidfile` gets the image ID and nothing else (no newline), as docker writes it.
 * tsbuild's image ID is the manifest digest (what `build -q` prints and `images`
 * shortens), where docker's is the config digest; the metadata file has both.
 */
export async function writeBuildResultFiles(store: LocalStore, image: Descriptor, names: string[], files: { iidfile?: string; metadataFile?: string }): Promise<void> {
  if (files.iidfile) await writeFile(files.iidfile, image.digest);
  if (files.metadataFile) await writeFile(files.metadataFile, `${JSON.stringify(await buildMetadata(store, image, names), null, 2)}\n`);
}
