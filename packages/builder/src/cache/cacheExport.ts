import { Readable } from 'node:stream';
import type { Descriptor, ImageDestination } from '@tsbuild/oci-layout';
import { cacheArtifact, type CacheRecord } from './cacheManifest.js';
import type { CacheMode } from './cacheSpec.js';

/**
 * What a cache export holds. max: every step of the build; min: the steps
 * the final image is made of, found by walking back from its last step (into
 * the stages it is built FROM, not those it only copies from).
 */
export function recordsFor(mode: CacheMode, records: Map<string, CacheRecord>, finalKey: string): CacheRecord[] {
  if (mode === 'max') return [...records.values()];
  const chain: CacheRecord[] = [];
  for (let record = records.get(finalKey); record; record = records.get(record.parent)) chain.unshift(record);
  return chain;
}

const JOBS = 4;

/**
 * Writes a cache artifact: the layers the destination lacks (a HEAD finds
 * those it has, so an unchanged cache sends no layer), the config, and only
 * then the manifest under its tag. Two exports to one ref at once each leave
 * a complete artifact; the last manifest written wins.
 */
export async function pushCache(records: CacheRecord[], destination: ImageDestination, openLayer: (layer: Descriptor) => Promise<Readable>): Promise<Descriptor> {
  const artifact = cacheArtifact(records);
  const blobs = [
    ...artifact.layers.map((layer) => ({ descriptor: layer, open: () => openLayer(layer) })),
    { descriptor: artifact.config.descriptor, open: async () => Readable.from([artifact.config.bytes]) },
  ];
  let next = 0;
  const worker = async () => {
    for (let blob = blobs[next++]; blob; blob = blobs[next++]) {
      if (!(await destination.hasBlob(blob.descriptor))) await destination.putBlob(blob.descriptor, blob.open);
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOBS, blobs.length) }, worker));
  await destination.putManifest(artifact.manifest.bytes, artifact.manifest.descriptor, true);
  await destination.commit?.();
  return artifact.manifest.descriptor;
}
