import type { Readable } from 'node:stream';
import type { CopySource, ImageDestination } from '../copyImage.js';
import { chooseManifest } from '../platform.js';
import { isIndexMediaType } from '../mediaTypes.js';
import { OciLayout, REF_NAME_ANNOTATION } from '../ociLayout.js';
import { parseIndex, type Descriptor, type Platform } from '../schema.js';
import { DigestMismatchError } from '../verifyingStream.js';

export interface SourceChoice {
  /** Which image of a multi-platform index (default: the only one, else this machine's). */
  platform?: Platform;
  /** Copy the whole index instead of one image of it. */
  all?: boolean;
}

/** Reads the image (or index) `descriptor` names out of a layout, choosing a platform as asked. */
export async function layoutSource(layout: OciLayout, descriptor: Descriptor, choice: SourceChoice = {}): Promise<CopySource> {
  if (!isIndexMediaType(descriptor.mediaType)) return { kind: 'image', image: await layout.readImage(descriptor) };
  const bytes = await layout.readBlob(descriptor.digest, descriptor.size);
  const index = parseIndex(bytes, descriptor.mediaType);
  if (choice.all) {
    return { kind: 'index', index: { descriptor, bytes, index, open: (d) => layoutSource(layout, d, choice) } };
  }
  return layoutSource(layout, chooseManifest(index, choice.platform), choice);
}

/** Finds `ref` in a layout's index.json (by ref name, or the only entry when no ref is given). */
async function findLayoutEntry(layout: OciLayout, ref: string | undefined): Promise<Descriptor> {
  const entries = (await layout.readIndex()).manifests;
  if (ref) {
    const found = entries.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
    if (!found) {
      const names = entries.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean);
      throw new Error(`${layout.dir} has no image named "${ref}" (names: ${names.length ? names.join(', ') : 'none'})`);
    }
    return found;
  }
  if (entries.length !== 1) {
    const names = entries.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest);
    throw new Error(`${layout.dir} holds ${entries.length} images; name one as oci:${layout.dir}:REF (${names.join(', ') || 'none'})`);
  }
  return entries[0]!;
}

/** `oci:DIR[:REF]` as a source. */
export async function openOciDirSource(dir: string, ref: string | undefined, choice: SourceChoice = {}): Promise<CopySource> {
  const layout = await OciLayout.open(dir);
  return layoutSource(layout, await findLayoutEntry(layout, ref), choice);
}

/**
 * Writes into an OCI layout: blobs verified while stored, manifests by digest,
 * and the root handed to `nameRoot` (an index.json entry, a store tag).
 */
export class OciLayoutDestination implements ImageDestination {
  constructor(
    readonly layout: OciLayout,
    private readonly nameRoot: (descriptor: Descriptor) => Promise<void>,
  ) {}

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return (await this.layout.blobSize(descriptor.digest)) === descriptor.size;
  }

  /**
   * A blob whose bytes do not match its digest is fetched once more (a fresh
   * stream: from a registry, over a connection of its own) before that is an
   * error; what the bad attempt wrote is discarded by `putBlob`.
   */
  async putBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    let stored: { size: number };
    try {
      stored = await this.layout.putBlob(await open(), { expected: descriptor.digest, sourceVerifies: true });
    } catch (e) {
      if (!(e instanceof DigestMismatchError)) throw e;
      stored = await this.layout.putBlob(await open(), { expected: descriptor.digest, sourceVerifies: true });
    }
    const { size } = stored;
    if (size !== descriptor.size) throw new Error(`blob ${descriptor.digest} has ${size} bytes, its descriptor says ${descriptor.size}`);
  }

  /** As `putBlob`: bytes that do not match are fetched once more (a new download) before that is an error. */
  async putBlobFile(descriptor: Descriptor, write: (path: string) => Promise<void>): Promise<void> {
    let stored: { size: number };
    try {
      stored = await this.layout.putBlobFile(descriptor.digest, write);
    } catch (e) {
      if (!(e instanceof DigestMismatchError)) throw e;
      stored = await this.layout.putBlobFile(descriptor.digest, write);
    }
    if (stored.size !== descriptor.size) throw new Error(`blob ${descriptor.digest} has ${stored.size} bytes, its descriptor says ${descriptor.size}`);
  }

  async putManifest(bytes: Buffer, descriptor: Descriptor, root: boolean): Promise<void> {
    await this.layout.putBlobBytes(bytes, descriptor.digest);
    if (root) await this.nameRoot(descriptor);
  }
}

/** Points `ref` (or, without one, an unnamed entry) of the layout's index.json at `descriptor`. */
export async function nameInLayout(layout: OciLayout, descriptor: Descriptor, ref: string | undefined): Promise<void> {
  const entry: Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    ...(ref ? { annotations: { [REF_NAME_ANNOTATION]: ref } } : {}),
  };
  await layout.updateIndex((index) => ({
    ...index,
    manifests: [
      ...index.manifests.filter((d) => (ref ? d.annotations?.[REF_NAME_ANNOTATION] !== ref : d.digest !== descriptor.digest || d.annotations?.[REF_NAME_ANNOTATION] !== undefined)),
      entry,
    ],
  }));
}

/** `oci:DIR[:REF]` as a destination, the root named by each of `refs` (none: an unnamed entry); the layout is created when missing. */
export async function openOciDirDestination(dir: string, refs: string[]): Promise<OciLayoutDestination> {
  const layout = await OciLayout.open(dir, { create: true });
  return new OciLayoutDestination(layout, async (d) => {
    for (const ref of refs.length > 0 ? refs : [undefined]) await nameInLayout(layout, d, ref);
  });
}
