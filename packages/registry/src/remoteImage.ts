import type { Readable } from 'node:stream';
import {
  chooseManifest,
  isIndexMediaType,
  isManifestMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  printableText,
  type CopySource,
  type Descriptor,
  type Digest,
  type Image,
  type ImageDestination,
  type SourceChoice,
} from '@tsbuild/oci-layout';
import type { BlobLocationCache } from './blobLocationCache.js';
import { RegistryError, TransferError } from './registryError.js';
import type { RemoteManifest, RepositoryClient } from './repositoryClient.js';

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new TransferError('too-large', `${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An image in a registry; layers are fetched (verified, resumable) only when opened. */
async function remoteImage(client: RepositoryClient, manifest: RemoteManifest, cache?: BlobLocationCache): Promise<Image> {
  if (!isManifestMediaType(manifest.mediaType)) throw new TransferError('not-an-image', `${client.registry}/${client.repository}@${manifest.digest} is a ${printableText(manifest.mediaType.slice(0, 200))}, not an image manifest`);
  const parsed = parseManifest(manifest.bytes, manifest.mediaType);
  const configBytes = await readAll(client.openBlob(parsed.config), MAX_CONFIG_BYTES, `config ${parsed.config.digest}`);
  const config = parseImageConfig(configBytes);
  if (config.rootfs.diff_ids.length !== parsed.layers.length) {
    throw new TransferError('not-an-image', `image ${manifest.digest}: config lists ${config.rootfs.diff_ids.length} diff_ids for ${parsed.layers.length} layers`);
  }
  // The repository holds these blobs: a later push elsewhere on this registry can mount them.
  for (const d of [parsed.config, ...parsed.layers]) await cache?.remember(d.digest, client.registry, client.repository);
  return {
    manifestBytes: manifest.bytes,
    manifestDigest: manifest.digest,
    manifest: parsed,
    configBytes,
    config,
    layers: parsed.layers.map((descriptor, i) => {
      const downloadTo = client.fileDownload(descriptor);
      return { descriptor, diffId: config.rootfs.diff_ids[i]!, open: async () => client.openBlob(descriptor), ...(downloadTo ? { downloadTo } : {}) };
    }),
  };
}

/** Reads `reference` (tag or digest) as one image or, with `all`, the whole index. */
export async function remoteSource(client: RepositoryClient, reference: string, choice: SourceChoice = {}, cache?: BlobLocationCache): Promise<CopySource> {
  const top = await client.getManifest(reference);
  if (!isIndexMediaType(top.mediaType)) return { kind: 'image', image: await remoteImage(client, top, cache) };
  const index = parseIndex(top.bytes, top.mediaType);
  const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
  if (choice.all) return { kind: 'index', index: { descriptor, bytes: top.bytes, index, open: (d) => remoteSource(client, d.digest, choice, cache) } };
  return remoteSource(client, chooseManifest(index, choice.platform).digest, choice, cache);
}

/**
 * A registry repository as a copy destination: blobs it already has are
 * skipped (HEAD), blobs another repository of the registry has are mounted,
 * the rest uploaded; the root manifest is stored under `tag`.
 */
export class RegistryDestination implements ImageDestination {
  readonly writesRecordedFormat = true;
  constructor(
    private readonly client: RepositoryClient,
    private readonly tag: string | undefined,
    private readonly cache?: BlobLocationCache,
  ) {}

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    const size = await this.client.blobSize(descriptor.digest);
    if (size !== undefined) return true;
    for (const from of await (this.cache?.repositoriesWith(descriptor.digest, this.client.registry) ?? [])) {
      if (from === this.client.repository) continue;
      if (await this.mountFrom(descriptor.digest, from)) {
        await this.cache?.remember(descriptor.digest, this.client.registry, this.client.repository);
        return true;
      }
    }
    return false;
  }

  /** A registry's refusal to mount (denied, unknown to it) leaves the upload to do; any other failure is the push's. */
  private async mountFrom(digest: Digest, from: string): Promise<boolean> {
    try {
      return await this.client.mountBlob(digest, from);
    } catch (e) {
      if (e instanceof RegistryError) return false;
      throw e;
    }
  }

  async putBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    await this.client.uploadBlob(descriptor, open);
    await this.cache?.remember(descriptor.digest, this.client.registry, this.client.repository);
  }

  async putManifest(bytes: Buffer, descriptor: Descriptor, root: boolean): Promise<void> {
    await this.client.putManifest(root && this.tag ? this.tag : descriptor.digest, bytes, descriptor.mediaType);
  }

  async commit(): Promise<void> {
    await this.cache?.save();
  }
}
