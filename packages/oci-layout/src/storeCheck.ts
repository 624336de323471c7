import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, digestAlgorithm, type Digest } from './digest.js';
import type { LocalStore } from './localStore.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './mediaTypes.js';
import { readdirIfExists, readTextIfExists } from './ifExists.js';
import { REF_NAME_ANNOTATION } from './ociLayout.js';
import { parseProcessIdentity, processAlive } from './processIdentity.js';
import { InvalidDocumentError, MAX_DOCUMENT_BYTES, parseImageConfig, parseIndex, parseManifest, type Descriptor, type Index } from './schema.js';

/** One thing found wrong, on one line, and what `--repair` did about it. */
export interface StoreProblem {
  kind: 'damaged-blob' | 'missing-blob' | 'bad-document' | 'bad-index' | 'damaged-snapshot' | 'leftover';
  message: string;
}

export interface StoreCheckReport {
  problems: StoreProblem[];
  /** What repair removed or rebuilt. */
  repaired: string[];
  /** What repair could not save: named images that need a damaged or missing blob, names lost with index.json. */
  unsaved: string[];
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);

async function hashFile(path: string, digest: Digest): Promise<Digest> {
  const hasher = new DigestingStream(digestAlgorithm(digest));
  await pipeline(createReadStream(path), hasher, async function* (source) {
    for await (const chunk of source) void chunk;
  });
  return hasher.digest;
}

function nameOf(entry: Descriptor): string {
  return entry.annotations?.[REF_NAME_ANNOTATION] ?? `unnamed image ${entry.digest}`;
}

/**
 * Checks the store as `podman system check` does: every blob's bytes against
 * its digest, every index.json entry down to its layers (nested indexes,
 * manifests, configs), and leases and temp files of processes that are gone.
 * With `repair`, damaged blobs and leftovers are removed, an unreadable
 * index.json is rebuilt from the manifests the store holds (their names are
 * lost), and images that need a damaged or missing blob are reported as
 * unsaved: their bytes must come from a registry or a build again.
 */
export async function checkStore(store: LocalStore, opts: { repair?: boolean } = {}): Promise<StoreCheckReport> {
  const layout = store.layout;
  const report: StoreCheckReport = { problems: [], repaired: [], unsaved: [] };
  const problem = (kind: StoreProblem['kind'], message: string) => report.problems.push({ kind, message });

  const damaged = new Set<Digest>();
  const present = new Map<Digest, number>();
  for await (const blob of layout.listBlobs()) {
    present.set(blob.digest, blob.size);
    const actual = await hashFile(layout.blobPath(blob.digest), blob.digest);
    if (actual !== blob.digest) {
      damaged.add(blob.digest);
      problem('damaged-blob', `blob ${blob.digest} is damaged: its bytes hash to ${actual}`);
    }
  }

  let index: Index | undefined;
  try {
    index = await layout.readIndex();
  } catch (e) {
    problem('bad-index', `${layout.indexPath} is unreadable: ${(e as Error).message}`);
  }

  /** The blobs each named image needs that are damaged or missing, by image. */
  const unusable = new Map<string, string[]>();
  const referenced = new Set<Digest>();
  const walk = async (image: string, d: Descriptor, role: string, depth: number): Promise<void> => {
    referenced.add(d.digest);
    const need = (why: string) => unusable.set(image, [...(unusable.get(image) ?? []), `${role} ${d.digest} ${why}`]);
    const size = present.get(d.digest);
    if (size === undefined) {
      problem('missing-blob', `${image}: its ${role} ${d.digest} is missing`);
      need('is missing');
      return;
    }
    if (damaged.has(d.digest)) {
      problem('damaged-blob', `${image}: its ${role} ${d.digest} is damaged`);
      need('is damaged');
      return;
    }
    if (size !== d.size) {
      problem('bad-document', `${image}: its ${role} ${d.digest} has ${size} bytes, the descriptor says ${d.size}`);
      need('has the wrong size');
      return;
    }
    const isDocument = isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType) || (role === 'config' && IMAGE_CONFIG_TYPES.has(d.mediaType));
    if (!isDocument) return;
    if (depth > 4) {
      problem('bad-document', `${image}: indexes nested too deep at ${d.digest}`);
      return;
    }
    try {
      if (d.size > MAX_DOCUMENT_BYTES) throw new Error(`${d.size} bytes is too large for a document`);
      const bytes = await layout.readBlob(d.digest, d.size);
      if (isIndexMediaType(d.mediaType)) {
        for (const child of parseIndex(bytes, d.mediaType).manifests) await walk(image, child, 'manifest', depth + 1);
      } else if (isManifestMediaType(d.mediaType)) {
        const m = parseManifest(bytes, d.mediaType);
        await walk(image, m.config, 'config', depth + 1);
        for (const layer of m.layers) await walk(image, layer, 'layer', depth + 1);
        if (m.subject) referenced.add(m.subject.digest);
      } else {
        parseImageConfig(bytes);
      }
    } catch (e) {
      problem('bad-document', `${image}: its ${role} ${d.digest} is not valid: ${(e as Error).message}`);
      need('is not valid');
    }
  };
  for (const entry of index?.manifests ?? []) await walk(nameOf(entry), entry, isIndexMediaType(entry.mediaType) ? 'index' : 'manifest', 0);

  const leftovers = await findLeftovers(store);
  for (const path of leftovers) problem('leftover', `${path} was left by a process that is gone`);

  if (!opts.repair) return report;

  for (const digest of damaged) {
    await layout.removeBlob(digest);
    report.repaired.push(`removed damaged blob ${digest}${referenced.has(digest) ? '' : ' (no image used it)'}`);
  }
  for (const path of leftovers) {
    await rm(path, { recursive: true, force: true });
    report.repaired.push(`removed ${path}`);
  }
  if (!index) {
    const rebuilt = await rebuildIndex(store, present, damaged);
    report.repaired.push(`rebuilt ${layout.indexPath}: ${rebuilt} image${rebuilt === 1 ? '' : 's'} kept by digest`);
    report.unsaved.push(`the image names in ${layout.indexPath} are lost; the images stay in it unnamed, by manifest digest, so prune keeps them`);
  }
  for (const [image, blobs] of unusable) report.unsaved.push(`${image} cannot be saved: its ${blobs.join(', ')}; pull or build it again`);
  return report;
}

/**
 * Leases of processes that are gone, temp files of a store nobody writes to,
 * and temp copies or locks of index.json whose writer died.
 */
async function findLeftovers(store: LocalStore): Promise<string[]> {
  const out: string[] = [];
  const leases = await store.leases();
  for (const lease of leases) if (!lease.alive) out.push(lease.file);
  if (!leases.some((l) => l.alive)) {
    for (const name of await readdirIfExists(store.tmpDir)) out.push(join(store.tmpDir, name));
  }
  const ociDir = store.layout.dir;
  for (const name of await readdirIfExists(ociDir)) {
    const tmp = /^index\.json\.tmp-(\d+)-/.exec(name);
    if (tmp && !processAlive(parseProcessIdentity(tmp[1]!)!)) out.push(join(ociDir, name));
  }
  for (const lock of [join(ociDir, 'index.json.lock'), join(store.root, 'gc.lock')]) {
    const owner = await readOwner(lock);
    if (owner !== undefined && !owner) out.push(lock);
  }
  return out;
}

/** A lock file's owner: true when alive, false when gone, undefined when there is no lock. */
async function readOwner(lock: string): Promise<boolean | undefined> {
  const text = await readTextIfExists(lock);
  if (text === undefined) return undefined;
  const owner = parseProcessIdentity(text);
  return owner !== undefined && processAlive(owner);
}

/**
 * A new index.json naming, by digest only, every manifest or index in the
 * store that no other index lists: the images are kept, their names are not
 * recorded anywhere else.
 */
async function rebuildIndex(store: LocalStore, present: Map<Digest, number>, damaged: Set<Digest>): Promise<number> {
  const layout = store.layout;
  const tops = new Map<Digest, Descriptor>();
  const children = new Set<Digest>();
  for (const [digest, size] of present) {
    if (damaged.has(digest) || size > MAX_DOCUMENT_BYTES) continue;
    const bytes = await layout.readBlob(digest, size);
    if (bytes[0] !== 0x7b) continue;
    let doc: { mediaType?: unknown; manifests?: unknown; layers?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch (e) {
      // A blob that only starts like JSON (a layer) is not a manifest.
      if (e instanceof SyntaxError) continue;
      throw e;
    }
    try {
      if (Array.isArray(doc.manifests)) {
        const idx = parseIndex(bytes);
        for (const child of idx.manifests) children.add(child.digest);
        tops.set(digest, { mediaType: idx.mediaType ?? MediaType.ociIndex, digest, size });
      } else if (Array.isArray(doc.layers)) {
        const m = parseManifest(bytes);
        tops.set(digest, { mediaType: m.mediaType, digest, size });
      }
    } catch (e) {
      // Not a document of ours (an artifact, a foreign JSON blob): it is left as it is.
      if (e instanceof InvalidDocumentError) continue;
      throw e;
    }
  }
  const manifests = [...tops.values()].filter((d) => !children.has(d.digest));
  await layout.replaceIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests });
  return manifests.length;
}
