import { existsSync } from 'node:fs';
import { LocalStore, OciLayout, openDockerArchive, storeRoot, REF_NAME_ANNOTATION, type Image } from '@tsbuild/oci-layout';

export class ImageSourceError extends Error {}

export interface ImageSource {
  image: Image;
  /** dive's layer ids when the source has its own (docker-save directories). */
  layerIds?: string[];
}

export interface ImageSourceOptions {
  /** dive's `--source`: how to read an IMAGE that has no `transport:` prefix. */
  source?: string;
  /** Local store root (`--root`). */
  root?: string;
}

const TRANSPORTS = ['docker-archive', 'oci', 'oci-archive', 'docker', 'store'] as const;
type Transport = (typeof TRANSPORTS)[number];

function splitTransport(ref: string, source: string | undefined): [Transport, string] {
  const colon = ref.indexOf(':');
  const prefix = colon > 0 ? ref.slice(0, colon) : '';
  if ((TRANSPORTS as readonly string[]).includes(prefix)) {
    const rest = ref.slice(colon + 1);
    return [prefix as Transport, prefix === 'docker' ? rest.replace(/^\/\//, '') : rest];
  }
  if (source === undefined || source === 'store') return ['store', ref];
  if (source === 'docker-archive' || source === 'oci' || source === 'oci-archive') return [source, ref];
  if (source === 'docker' || source === 'podman') {
    throw new ImageSourceError(`--source ${source}: tsdive reads images without a daemon; save the image (${source} save -o image.tar ${ref}) and run tsdive docker-archive:image.tar`);
  }
  throw new ImageSourceError(`unknown --source "${source}" (use docker-archive, oci or store)`);
}

/** `PATH[:REF]` where PATH itself may contain colons: the longest existing prefix is the path. */
function splitPathAndRef(rest: string): [string, string | undefined] {
  if (existsSync(rest)) return [rest, undefined];
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && existsSync(rest.slice(0, colon))) return [rest.slice(0, colon), rest.slice(colon + 1)];
  return [rest, undefined];
}

async function openOciLayout(dir: string, ref: string | undefined): Promise<Image> {
  const layout = await OciLayout.open(dir);
  const index = await layout.readIndex();
  if (ref !== undefined) {
    const found = await layout.findRef(ref);
    if (!found) throw new ImageSourceError(`${dir}: no image named "${ref}" in index.json`);
    return layout.readImage(found);
  }
  if (index.manifests.length !== 1) {
    const names = index.manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest);
    throw new ImageSourceError(`${dir} holds ${index.manifests.length} images; name one as oci:${dir}:REF (${names.join(', ') || 'none'})`);
  }
  return layout.readImage(index.manifests[0]!);
}

/**
 * Resolves the IMAGE argument to an image: `docker-archive:FILE[:REF]`,
 * `oci:DIR[:REF]`, or a name in the local store.
 */
export async function openImageSource(ref: string, opts: ImageSourceOptions = {}): Promise<ImageSource> {
  const [transport, rest] = splitTransport(ref, opts.source);
  if (rest === '') throw new ImageSourceError(`"${ref}" names no image`);
  switch (transport) {
    case 'docker-archive': {
      const [file, name] = splitPathAndRef(rest);
      const image = await openDockerArchive(file, name);
      return { image, layerIds: image.layerPaths.map((p) => p.split('/')[0]!) };
    }
    case 'oci': {
      const [dir, name] = splitPathAndRef(rest);
      return { image: await openOciLayout(dir, name) };
    }
    case 'store': {
      const store = await LocalStore.open(storeRoot(opts.root));
      return { image: await store.readImage(rest) };
    }
    case 'oci-archive':
    case 'docker':
      throw new ImageSourceError(`${transport}: images are not supported by tsdive yet`);
  }
}
