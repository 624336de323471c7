import { existsSync } from 'node:fs';
import { hostPlatform, LocalStore, OciLayout, openDockerArchive, openOciArchiveSource, storeRoot, REF_NAME_ANNOTATION, type Image } from '@tsbuild/oci-layout';
import { TsdiveError } from '../tsdiveError.js';
import { runTsbuild } from './tsbuildProcess.js';

export interface ImageSource {
  image: Image;
  /** dive's layer ids when the source has its own (docker-save directories). */
  layerIds?: string[];
  /** Releases what reading the image needs (an unpacked archive); layers cannot be read after it. */
  close(): Promise<void>;
}

const nothingToClose = async () => undefined;

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
    throw new TsdiveError('image-source', `--source ${source}: tsdive reads images without a daemon; save the image (${source} save -o image.tar ${ref}) and run tsdive docker-archive:image.tar`);
  }
  throw new TsdiveError('image-source', `unknown --source "${source}" (use docker-archive, oci or store)`);
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
    if (!found) throw new TsdiveError('image-source', `${dir}: no image named "${ref}" in index.json`);
    return layout.readImage(found);
  }
  if (index.manifests.length !== 1) {
    const names = index.manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest);
    throw new TsdiveError('image-source', `${dir} holds ${index.manifests.length} images; name one as oci:${dir}:REF (${names.join(', ') || 'none'})`);
  }
  return layout.readImage(index.manifests[0]!);
}

/**
 * Resolves the IMAGE argument to an image: `docker-archive:FILE[:REF]`,
 * `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker://REF`, or a name in the local store.
 */
export async function openImageSource(ref: string, opts: ImageSourceOptions = {}): Promise<ImageSource> {
  const [transport, rest] = splitTransport(ref, opts.source);
  if (rest === '') throw new TsdiveError('image-source', `"${ref}" names no image`);
  switch (transport) {
    case 'docker-archive': {
      const [file, name] = splitPathAndRef(rest);
      const image = await openDockerArchive(file, name);
      return { image, layerIds: image.layerPaths.map((p) => p.split('/')[0]!), close: nothingToClose };
    }
    case 'oci': {
      const [dir, name] = splitPathAndRef(rest);
      return { image: await openOciLayout(dir, name), close: nothingToClose };
    }
    case 'oci-archive': {
      const [file, name] = splitPathAndRef(rest);
      const archive = await openOciArchiveSource(file, name, { platform: hostPlatform() });
      if (archive.source.kind !== 'image') {
        await archive.close();
        throw new TsdiveError('image-source', `${file} holds an index of several images; name one as oci-archive:${file}:REF`);
      }
      return { image: archive.source.image, close: archive.close };
    }
    case 'store': {
      const store = await LocalStore.open(storeRoot(opts.root));
      return { image: await store.readImage(rest), close: nothingToClose };
    }
    case 'docker': {
      // Pulled through tsbuild into the store (no daemon, and the registry client stays out of this package).
      const pulled = await runTsbuild([...(opts.root !== undefined ? ['--root', opts.root] : []), 'pull', '-q', rest]);
      if (pulled.code !== 0) throw new TsdiveError('image-source', `cannot pull ${rest} (tsbuild pull exited with ${pulled.code ?? 'a signal'})`);
      const store = await LocalStore.open(storeRoot(opts.root));
      return { image: await store.readImage(pulled.stdout.trim().split('\n').at(-1)!), close: nothingToClose };
    }
  }
}
