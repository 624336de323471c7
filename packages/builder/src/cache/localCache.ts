import type { Readable } from 'node:stream';
import { MediaType, OciLayout, openOciDirDestination, REF_NAME_ANNOTATION, type Descriptor, type Digest, type ImageDestination } from '@tsbuild/oci-layout';
import { CacheFormatError, type CacheLocation } from './cacheManifest.js';

/** A document's own `mediaType` field: an OCI layout's index.json lists only the root's. */
function declaredMediaType(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown } | null;
    return typeof doc?.mediaType === 'string' ? doc.mediaType : MediaType.ociManifest;
  } catch (e) {
    if (e instanceof SyntaxError) throw new CacheFormatError('the cache manifest is not JSON');
    throw e;
  }
}

/** `type=local,src=DIR`: a cache kept in an OCI image layout under the ref name `tag`. */
export async function openLocalCache(dir: string, tag: string): Promise<CacheLocation> {
  const layout = await OciLayout.open(dir);
  const entry = (await layout.readIndex()).manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === tag);
  if (!entry) throw new CacheFormatError(`${dir} holds no cache tagged "${tag}"`);
  return {
    async readManifest(digest?: Digest) {
      const bytes = await layout.readBlob(digest ?? entry.digest, digest ? undefined : entry.size);
      return { bytes, mediaType: digest ? declaredMediaType(bytes) : entry.mediaType };
    },
    async openBlob(descriptor: Descriptor): Promise<Readable> {
      return layout.openBlob(descriptor.digest, descriptor.size);
    },
  };
}

/** `type=local,dest=DIR`: the layout is created when missing; `tag` is moved only after every blob is in. */
export function localCacheDestination(dir: string, tag: string): Promise<ImageDestination> {
  return openOciDirDestination(dir, [tag]);
}
