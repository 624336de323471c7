import { digestOf } from './digest.js';
import type { Image } from './image.js';
import { MediaType, type Compression } from './mediaTypes.js';
import { canonicalJson, type Descriptor, type Manifest } from './schema.js';
import { ToolError, TOOL_FAILURE_EXIT_CODE } from './toolError.js';

/** The manifest format an image is meant to have outside the store, as buildah's `--format` spells it. */
export type ImageFormat = 'oci' | 'docker';

/**
 * Marks a stored OCI manifest as one that leaves the store as Docker schema2.
 * The store keeps OCI manifests only, since skopeo's and umoci's `oci:` readers
 * skip other media types in index.json; the format is converted where the image
 * is written out (a registry, a docker archive).
 */
export const IMAGE_FORMAT_ANNOTATION = 'io.tsbuild.image.format';

/** Docker's media type for an uncompressed layer, which schema2 allows beside gzip. */
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

const DOCKER_LAYER_TYPE: Record<string, string> = {
  [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip,
  [MediaType.ociLayerTar]: DOCKER_LAYER_TAR,
  [MediaType.ociLayerNondistributableGzip]: MediaType.dockerLayerForeignGzip,
  [MediaType.dockerLayerGzip]: MediaType.dockerLayerGzip,
  [DOCKER_LAYER_TAR]: DOCKER_LAYER_TAR,
  [MediaType.dockerLayerForeignGzip]: MediaType.dockerLayerForeignGzip,
};

const OCI_LAYER_TYPE: Record<string, string> = {
  [DOCKER_LAYER_TAR]: MediaType.ociLayerTar,
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerForeignGzip]: MediaType.ociLayerNondistributableGzip,
};

/** A layer a Docker schema2 manifest cannot list (zstd, as buildah and podman refuse it too). */
export class ImageFormatError extends ToolError<'layer-not-in-format'> {
  constructor(message: string) {
    super('layer-not-in-format', message, TOOL_FAILURE_EXIT_CODE);
  }
}

/** Refuses a compression the format cannot list before anything is built with it. */
export function checkCompressionForFormat(format: ImageFormat, compression: Compression): void {
  if (format === 'docker' && compression === 'zstd') throw new ImageFormatError('--compression zstd cannot be used with --format docker: Docker schema2 layers are gzip or uncompressed');
}

/** The annotations that record `format` on a manifest tsbuild writes (none for OCI, the default). */
export function imageFormatAnnotations(format: ImageFormat): Record<string, string> {
  return format === 'docker' ? { [IMAGE_FORMAT_ANNOTATION]: 'docker' } : {};
}

/** The format the image leaves the store in: Docker for schema2 manifests and for OCI ones marked so. */
export function recordedImageFormat(manifest: Manifest): ImageFormat {
  if (manifest.mediaType === MediaType.dockerManifest) return 'docker';
  return manifest.annotations?.[IMAGE_FORMAT_ANNOTATION] === 'docker' ? 'docker' : 'oci';
}

/** The manifest media type the image has once it leaves the store (podman inspect's ManifestType). */
export function recordedManifestType(manifest: Manifest): string {
  return recordedImageFormat(manifest) === 'docker' ? MediaType.dockerManifest : manifest.mediaType;
}

function withManifest(image: Image, manifest: Manifest, layers: Image['layers']): Image {
  const manifestBytes = canonicalJson(manifest);
  return { ...image, manifest, manifestBytes, manifestDigest: digestOf(manifestBytes), layers };
}

/**
 * The same config and layer blobs under a Docker schema2 manifest; the config
 * and layer digests stay, the manifest digest changes. Schema2 has no
 * annotations, so the manifest's are dropped, as buildah's conversion does.
 */
export function asDockerImage(image: Image): Image {
  if (image.manifest.mediaType === MediaType.dockerManifest) return image;
  const layers = image.layers.map((l) => {
    const mediaType = DOCKER_LAYER_TYPE[l.descriptor.mediaType];
    if (!mediaType) throw new ImageFormatError(`layer ${l.descriptor.digest} (${l.descriptor.mediaType}) cannot be in a Docker schema2 image: use --format oci`);
    return { ...l, descriptor: dockerDescriptor(l.descriptor, mediaType) };
  });
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: dockerDescriptor(image.manifest.config, MediaType.dockerConfig),
    layers: layers.map((l) => l.descriptor),
  };
  return withManifest(image, manifest, layers);
}

/** Schema2 descriptors carry media type, size, digest and, for foreign layers, urls. */
function dockerDescriptor(d: Descriptor, mediaType: string): Descriptor {
  return { mediaType, size: d.size, digest: d.digest, ...(d.urls ? { urls: d.urls } : {}) };
}

/**
 * A Docker schema2 image (a docker archive's, a registry's) under an OCI
 * manifest, so it is one that skopeo and umoci find in an OCI layout; the
 * blobs stay as they are.
 */
export function asOciImage(image: Image): Image {
  const layers = image.layers.map((l) => ({ ...l, descriptor: { ...l.descriptor, mediaType: OCI_LAYER_TYPE[l.descriptor.mediaType] ?? l.descriptor.mediaType } }));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { ...image.manifest.config, mediaType: MediaType.ociConfig },
    layers: layers.map((l) => l.descriptor),
  };
  return withManifest(image, manifest, layers);
}

/** The image as it should leave the store: converted to schema2 when it was built (or pulled) as Docker format. */
export function inRecordedFormat(image: Image): Image {
  return recordedImageFormat(image.manifest) === 'docker' ? asDockerImage(image) : image;
}
