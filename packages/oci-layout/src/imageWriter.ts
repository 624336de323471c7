import type { Descriptor, ImageConfig, Manifest } from './schema.js';
import { MediaType } from './mediaTypes.js';
import type { OciLayout } from './ociLayout.js';

/**
 * Stores an image config and the OCI manifest that ties it to its layers
 * (already in the layout) and returns the manifest's descriptor.
 */
export async function writeImageManifest(
  layout: OciLayout,
  config: ImageConfig,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): Promise<Descriptor> {
  const configDescriptor = await layout.putDocument(config, MediaType.ociConfig);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers,
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const descriptor = await layout.putDocument(manifest, MediaType.ociManifest);
  return { ...descriptor, platform: { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) } };
}
