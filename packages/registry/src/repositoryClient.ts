import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  digestAlgorithm,
  digestHex,
  digestOf,
  InvalidDigestError,
  parseIndex,
  MediaType,
  parseDigest,
  printableText,
  VerifyingStream,
  type Descriptor,
  type Digest,
} from '@tsbuild/oci-layout';
import { RegistryError, TransferError, urlFromRegistry } from './registryError.js';
import { header, isTransientError, retryDelay, type RegistryResponse, type RegistrySession } from './registrySession.js';
import { backoffDelay } from './retryPolicy.js';
import { downloadBlobFile } from './blobFileDownload.js';

/** OCI and Docker schema2 manifests and indexes; schema1 is never asked for. */
const MANIFEST_MEDIA_TYPES: string[] = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList];
const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Blobs this large download straight into files where a file is wanted (fileDownload); smaller ones stream as all blobs do. */
const FILE_DOWNLOAD_BYTES = 4 * 1024 * 1024;
/**
 * What a blob download holds ahead of its consumer at each stage. Streams' 16 KiB default is a
 * quarter of one of the 64 KiB pieces a socket delivers, so every piece stopped the flow once.
 */
const BLOB_BUFFER_BYTES = 1024 * 1024;
/** Blobs above this go up as a streamed PATCH (resumable) instead of one PUT. */
const DEFAULT_CHUNKED_THRESHOLD = 32 * 1024 * 1024;

export interface RemoteManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

function skipBytes(source: Readable, count: number): Readable {
  if (count === 0) return source;
  return Readable.from(
    (async function* () {
      let left = count;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (left >= chunk.length) {
          left -= chunk.length;
          continue;
        }
        yield left > 0 ? chunk.subarray(left) : chunk;
        left = 0;
      }
    })(),
    { objectMode: false },
  );
}

/** A Docker-Content-Digest header: one that is no digest is the registry breaking the protocol. */
function digestFromRegistry(value: string, registry: string): Digest {
  try {
    return parseDigest(value);
  } catch (e) {
    if (!(e instanceof InvalidDigestError)) throw e;
    throw new TransferError('bad-response', `registry ${registry} sent a Docker-Content-Digest that is no digest: ${e.message}`);
  }
}

function mediaTypeOf(res: RegistryResponse, bytes: Buffer): string {
  const fromHeader = header(res, 'content-type')?.split(';')[0]?.trim();
  if (fromHeader && MANIFEST_MEDIA_TYPES.includes(fromHeader)) return fromHeader;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown } | null;
    if (typeof doc?.mediaType === 'string') return doc.mediaType;
    return doc?.manifests ? MediaType.ociIndex : MediaType.ociManifest;
  } catch (e) {
    // Not JSON: the header's type (or none) is all there is to go on.
    if (e instanceof SyntaxError) return fromHeader ?? 'application/octet-stream';
    throw e;
  }
}

/**
 * The distribution-spec API of one repository: manifests, blobs (streamed and
 * verified, downloads resumed with Range, uploads monolithic or a resumable
 * streamed PATCH), cross-repository mounts and tag listing.
 */
export class RepositoryClient {
  /** Blobs opened so far, so a second open is known to be a retry. */
  private readonly opened = new Set<Digest>();

  constructor(
    readonly session: RegistrySession,
    readonly repository: string,
    private readonly opts: { push?: boolean; chunkedThreshold?: number } = {},
  ) {}

  get registry(): string {
    return this.session.host;
  }

  private scopes(extra: string[] = []): string[] {
    return [`repository:${this.repository}:${this.opts.push ? 'pull,push' : 'pull'}`, ...extra];
  }

  private path(rest: string): string {
    return `/v2/${this.repository}/${rest}`;
  }

  async getManifest(reference: string): Promise<RemoteManifest> {
    const res = await this.session.request({ method: 'GET', url: this.path(`manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT }, scopes: this.scopes(), expect: [200] });
    const length = Number(header(res, 'content-length') ?? 0);
    if (length > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw new TransferError('too-large', `manifest ${this.registry}/${this.repository}:${reference} is ${length} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`);
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (bytes.length > MAX_MANIFEST_BYTES) throw new TransferError('too-large', `manifest ${this.registry}/${this.repository}:${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    let expected: Digest | undefined;
    if (reference.includes(':')) expected = parseDigest(reference);
    else {
      const claimed = header(res, 'docker-content-digest');
      if (claimed) expected = digestFromRegistry(claimed, this.registry);
    }
    const digest = digestOf(bytes, expected ? digestAlgorithm(expected) : 'sha256');
    if (expected && digest !== expected) {
      throw new TransferError('digest-mismatch', `manifest ${this.registry}/${this.repository}:${reference} does not match its digest: expected ${expected}, got ${digest}`);
    }
    return { bytes, mediaType: mediaTypeOf(res, bytes), digest };
  }

  /** The manifest's descriptor without its body, or undefined when the registry does not have it. */
  async headManifest(reference: string): Promise<Descriptor | undefined> {
    const res = await this.session.request({ method: 'HEAD', url: this.path(`manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT }, scopes: this.scopes(), expect: [200, 404] });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    const digest = header(res, 'docker-content-digest');
    if (!digest) return undefined;
    return { mediaType: header(res, 'content-type')?.split(';')[0] ?? '', digest: digestFromRegistry(digest, this.registry), size: Number(header(res, 'content-length') ?? 0) };
  }

  /**
   * PUTs the exact bytes with Content-Type = their media type, so the registry's digest is ours.
   * docker-registry checks each blob the manifest names by reading the repository's link file,
   * which its filesystem driver rewrites in place: while another client pushes the same blob
   * there, the file can read empty and the PUT is refused as DIGEST_INVALID. Our digest is made
   * from these very bytes, so that refusal is retried as a transient one.
   */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.session.request({
      method: 'PUT',
      url: this.path(`manifests/${reference}`),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: async () => bytes,
      scopes: this.scopes(),
      expect: [201, 200, 202],
      transientCodes: ['DIGEST_INVALID'],
    });
    await res.body.dump();
    const ours = digestOf(bytes);
    const theirs = header(res, 'docker-content-digest');
    if (theirs && theirs !== ours) throw new TransferError('digest-mismatch', `registry ${this.registry} stored manifest ${reference} as ${printableText(theirs.slice(0, 200))}, but its bytes are ${ours}`);
    return ours;
  }

  async deleteManifest(digest: Digest): Promise<void> {
    const res = await this.session.request({ method: 'DELETE', url: this.path(`manifests/${digest}`), scopes: [`repository:${this.repository}:delete`], expect: [202, 200] });
    await res.body.dump();
  }

  /** The blob's size when the repository has it. */
  async blobSize(digest: Digest): Promise<number | undefined> {
    const res = await this.session.request({ method: 'HEAD', url: this.path(`blobs/${digest}`), scopes: this.scopes(), expect: [200, 404] });
    await res.body.dump();
    return res.statusCode === 404 ? undefined : Number(header(res, 'content-length') ?? 0);
  }

  /**
   * The blob as a stream verified against the descriptor. A connection that
   * breaks mid-blob is resumed with a Range request (or re-read and skipped
   * when the server ignores Range), within the retry budget.
   */
  openBlob(descriptor: Descriptor): Readable {
    const session = this.session;
    const url = this.path(`blobs/${descriptor.digest}`);
    const scopes = this.scopes();
    // A copy opens each blob once; opened again, it is a retry after bytes that did not verify, and the
    // connection (or the proxy on it) that brought them is not trusted with it again.
    const freshConnection = this.opened.has(descriptor.digest);
    this.opened.add(descriptor.digest);
    const chunks = async function* (): AsyncGenerator<Buffer> {
      let received = 0;
      for (let failures = 0; ; ) {
        try {
          const res = await session.request({ method: 'GET', url, headers: received > 0 ? { range: `bytes=${received}-` } : {}, scopes, expect: [200, 206], freshConnection });
          // A server that ignores Range sends the whole blob again: what we already have is skipped.
          const body = skipBytes(res.body, received > 0 && res.statusCode === 200 ? received : 0);
          for await (const part of body as AsyncIterable<Buffer>) {
            received += part.length;
            yield part;
          }
          if (received >= descriptor.size) return;
          throw new TransferError('unreachable', `blob ${descriptor.digest} ended early at ${received} of ${descriptor.size} bytes`, { code: 'ECONNRESET' });
        } catch (e) {
          if (++failures >= session.retryPolicy.attempts || !isTransientError(e)) throw e;
          await sleep(backoffDelay(failures, session.retryPolicy));
        }
      }
    };
    const verify = new VerifyingStream(descriptor.digest, descriptor.size, 'blob', BLOB_BUFFER_BYTES);
    const source = Readable.from(chunks(), { objectMode: false, highWaterMark: BLOB_BUFFER_BYTES });
    source.on('error', (e) => verify.destroy(e));
    // A consumer that gives up (a full disk) destroys only `verify`; the response must be let go of too,
    // or the session's close waits for a body nobody reads, and the process ends with no error at all.
    verify.on('close', () => source.destroy());
    return source.pipe(verify);
  }

  /**
   * For a large blob, a way to download it into a new file at a path, verified and fsynced,
   * its bytes never in a stream; undefined for a small one, which streams (openBlob) on a
   * pooled connection instead of opening one of its own.
   */
  fileDownload(descriptor: Descriptor): ((path: string, onProgress?: (bytes: number) => void) => Promise<void>) | undefined {
    if (descriptor.size < FILE_DOWNLOAD_BYTES) return undefined;
    return async (path, onProgress) => {
      const url = new URL(this.path(`blobs/${descriptor.digest}`), await this.session.baseUrl()).toString();
      await downloadBlobFile(this.session, url, this.scopes(), descriptor, path, onProgress);
    };
  }

  private async startUpload(mount?: { digest: Digest; from: string }): Promise<{ location?: string; mounted: boolean }> {
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const res = await this.session.request({
      method: 'POST',
      url: this.path(`blobs/uploads/${query}`),
      headers: { 'content-length': '0' },
      scopes: this.scopes(mount ? [`repository:${mount.from}:pull`] : []),
      expect: [201, 202],
    });
    await res.body.dump();
    if (res.statusCode === 201) return { mounted: true };
    const location = header(res, 'location');
    if (!location) throw new TransferError('bad-response', `registry ${this.registry} started an upload without a Location header`);
    return { location: urlFromRegistry(location, `${await this.session.baseUrl()}${this.path('blobs/uploads/')}`, 'an upload location').toString(), mounted: false };
  }

  /** Mounts the blob from another repository of the same registry; false when the registry would not. */
  async mountBlob(digest: Digest, from: string): Promise<boolean> {
    const { mounted, location } = await this.startUpload({ digest, from });
    if (!mounted && location) {
      try {
        const res = await this.session.request({ method: 'DELETE', url: location, scopes: this.scopes(), expect: [204, 200, 404] });
        await res.body.dump();
      } catch (e) {
        // A registry that will not cancel an upload (405 and the like) lets the session expire on its own.
        if (!(e instanceof RegistryError)) throw e;
      }
    }
    return mounted;
  }

  /** Uploads a blob, monolithic for small ones and as a resumable streamed PATCH for large ones. */
  async uploadBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { location } = await this.startUpload();
        // 201 answers a mount; to an upload's start it leaves nowhere to send the bytes.
        if (!location) throw new TransferError('bad-response', `registry ${this.registry} answered the start of an upload with 201 and no upload Location`);
        if (descriptor.size <= (this.opts.chunkedThreshold ?? DEFAULT_CHUNKED_THRESHOLD)) await this.putMonolithic(location, descriptor, open);
        else await this.putStreamed(location, descriptor, open);
        return;
      } catch (e) {
        const restart = isTransientError(e) || (e as { restartUpload?: boolean }).restartUpload === true;
        if (attempt + 1 >= this.session.retryPolicy.attempts || !restart) throw e;
        await sleep(retryDelay(e, attempt, this.session.retryPolicy));
      }
    }
  }

  private withDigest(location: string, digest: Digest): string {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    return url.toString();
  }

  private async putMonolithic(location: string, descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    const res = await this.session.request({
      method: 'PUT',
      url: this.withDigest(location, descriptor.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) },
      body: open,
      scopes: this.scopes(),
      expect: [201, 204],
      retry: false,
    });
    await res.body.dump();
  }

  /** How many bytes of an upload the registry holds, from `GET <location>` (Range: 0-N). */
  private async uploadOffset(location: string): Promise<{ offset: number; location: string }> {
    const res = await this.session.request({ method: 'GET', url: location, scopes: this.scopes(), expect: [204, 200] });
    await res.body.dump();
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
    const next = header(res, 'location');
    return { offset: range ? Number(range[1]) + 1 : 0, location: next ? urlFromRegistry(next, location, 'an upload location').toString() : location };
  }

  private async putStreamed(start: string, descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    let location = start;
    let offset = 0;
    for (let failures = 0; offset < descriptor.size; ) {
      try {
        const from = offset;
        const res = await this.session.request({
          method: 'PATCH',
          url: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(descriptor.size - from),
            ...(from > 0 ? { 'content-range': `${from}-${descriptor.size - 1}` } : {}),
          },
          body: async () => skipBytes(await open(), from),
          scopes: this.scopes(),
          expect: [202, 204],
          retry: false,
        });
        await res.body.dump();
        const next = header(res, 'location');
        if (next) location = urlFromRegistry(next, location, 'an upload location').toString();
        offset = descriptor.size;
      } catch (e) {
        const resync = e instanceof RegistryError ? e.status === 416 || isTransientError(e) : isTransientError(e);
        if (++failures >= this.session.retryPolicy.attempts || !resync) throw e;
        await sleep(backoffDelay(failures, this.session.retryPolicy));
        try {
          ({ offset, location } = await this.uploadOffset(location));
        } catch (status) {
          // distribution's upload state token names the offset it was issued at, so after a
          // partial PATCH it may refuse the status request: the upload then starts over.
          if (status instanceof RegistryError && (status.status === 404 || status.status === 400)) throw Object.assign(e as Error, { restartUpload: true });
          throw status;
        }
      }
    }
    const res = await this.session.request({ method: 'PUT', url: this.withDigest(location, descriptor.digest), headers: { 'content-length': '0' }, scopes: this.scopes(), expect: [201, 204] });
    await res.body.dump();
  }

  /**
   * Manifests whose `subject` is `digest`: the referrers API, or, where the
   * registry has none (404), the index tagged `<alg>-<hex>` as the spec's
   * fallback keeps it. Filtered by `artifactType` when given.
   */
  async referrers(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await this.session.request({ method: 'GET', url: this.path(`referrers/${digest}${query}`), headers: { accept: MediaType.ociIndex }, scopes: this.scopes(), expect: [200, 404] });
    let manifests: Descriptor[];
    if (res.statusCode === 200) {
      manifests = parseIndex(Buffer.from(await res.body.arrayBuffer()), MediaType.ociIndex).manifests;
    } else {
      await res.body.dump();
      const tag = `${digestAlgorithm(digest)}-${digestHex(digest)}`;
      if (!(await this.headManifest(tag))) return [];
      const fallback = await this.getManifest(tag);
      manifests = parseIndex(fallback.bytes, fallback.mediaType).manifests;
    }
    return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
  }

  /** All tags, following `Link: <...>; rel="next"` pages (`pageSize` asks for pages of that many). */
  async listTags(pageSize?: number): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = new URL(`${this.path('tags/list')}${pageSize ? `?n=${pageSize}` : ''}`, await this.session.baseUrl());
    while (url) {
      const res: RegistryResponse = await this.session.request({ method: 'GET', url: url.toString(), scopes: this.scopes(), expect: [200] });
      const doc = (await res.body.json()) as { tags?: string[] | null };
      tags.push(...(doc.tags ?? []));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, 'link') ?? '');
      url = link ? urlFromRegistry(link[1]!, url, 'a next page at') : undefined;
    }
    return tags;
  }
}
