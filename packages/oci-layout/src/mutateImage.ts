import { digestOf } from './digest.js';
import type { Image, Layer } from './image.js';
import { MediaType } from './mediaTypes.js';
import { canonicalJson, type Descriptor, type HistoryEntry, type ImageConfig, type Manifest } from './schema.js';
import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';

/**
 * Changing an image the way go-containerregistry's `mutate` does: each
 * function returns a new Image value (config, manifest and their bytes made
 * again) and leaves its argument as it was, so an image can be shared between
 * stages and handed to any ImageDestination by the copy loop. Layers are
 * carried as Layer values, so a layer's descriptor and its diff_id never part.
 * Documents are serialised with the key order they are built in, so the same
 * changes always give the same digests.
 */

/** A config and a layer list that do not describe one image (a programming error, not bad input). */
export class InconsistentImageError extends ToolError<'inconsistent-image'> {
  constructor(message: string) {
    super('inconsistent-image', message, FAILURE_EXIT_CODE);
  }
}

/**
 * An OCI image of `config` over `layers` (whose blobs may live anywhere their
 * `open` reaches); the config's diff_ids must be the layers' in order.
 */
export function assembleImage(config: ImageConfig, layers: readonly Layer[], annotations?: Record<string, string>): Image {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length || layers.some((l, i) => l.diffId !== diffIds[i])) {
    throw new InconsistentImageError(`config lists diff_ids [${diffIds.join(', ')}] for layers [${layers.map((l) => l.diffId).join(', ')}]`);
  }
  const own = structuredClone(config);
  const configBytes = canonicalJson(own);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: digestOf(configBytes), size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const manifestBytes = canonicalJson(manifest);
  return { manifestBytes, manifestDigest: digestOf(manifestBytes), manifest, configBytes, config: own, layers: [...layers] };
}

/** The image with `layer` on top: its diff_id and its history entry appended in step. */
export function appendLayer(image: Image, layer: Layer, history: HistoryEntry): Image {
  if (history.empty_layer) throw new InconsistentImageError('a layer\'s history entry cannot be an empty_layer one');
  const config = structuredClone(image.config);
  config.rootfs.diff_ids.push(layer.diffId);
  (config.history ??= []).push(history);
  return assembleImage(config, [...image.layers, layer], image.manifest.annotations);
}

/** The image with the history entries of steps that made no layer (ENV, CMD, ...), in order: marked `empty_layer`. */
export function appendHistory(image: Image, ...entries: HistoryEntry[]): Image {
  const config = structuredClone(image.config);
  (config.history ??= []).push(...entries.map((history) => ({ ...history, empty_layer: true })));
  return assembleImage(config, image.layers, image.manifest.annotations);
}

/** The image with these config-file fields set; a field it had keeps its place, a new one comes last. */
export function withConfig(image: Image, fields: Partial<Omit<ImageConfig, 'rootfs' | 'history'>>): Image {
  return withConfigFile(image, Object.assign(structuredClone(image.config), fields));
}

/** The image with its whole config file replaced; the diff_ids must still be its layers'. */
export function withConfigFile(image: Image, config: ImageConfig): Image {
  return assembleImage(config, image.layers, image.manifest.annotations);
}

/** The image with these manifest annotations added (the format it leaves the store in, say); the config is untouched. */
export function withAnnotations(image: Image, annotations: Record<string, string>): Image {
  return assembleImage(image.config, image.layers, { ...image.manifest.annotations, ...annotations });
}

/** The image's manifest descriptor, with the platform its config names (as an index entry carries it). */
export function imageDescriptor(image: Image): Descriptor {
  const { architecture, os, variant } = image.config;
  return {
    mediaType: image.manifest.mediaType,
    digest: image.manifestDigest,
    size: image.manifestBytes.length,
    platform: { architecture, os, ...(variant ? { variant } : {}) },
  };
}
