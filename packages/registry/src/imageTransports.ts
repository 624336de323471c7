import { join } from 'node:path';
import {
  awaitedElsewhere,
  copySource,
  DockerArchiveDestination,
  formatImageLocation,
  formatImageName,
  LocalStore,
  normalizeImageName,
  OciArchiveDestination,
  OciLayoutDestination,
  openDockerArchive,
  openOciArchiveSource,
  openOciDirDestination,
  openOciDirSource,
  layoutSource,
  ImageLocationError,
  type CopyOptions,
  type CopySource,
  type Descriptor,
  type ImageDestination,
  type ImageLocation,
  type ImageName,
  type Platform,
} from '@tsbuild/oci-layout';
import { BlobLocationCache } from './blobLocationCache.js';
import type { Credentials } from './credentials.js';
import { loadRegistriesConf, pullCandidates, qualifyName, type PullCandidate, type RegistriesConfig } from './registriesConf.js';
import { TransferError } from './registryError.js';
import { RegistryDestination, remoteSource } from './remoteImage.js';
import { RepositoryClient } from './repositoryClient.js';
import { RegistrySession } from './registrySession.js';
import type { RetryPolicy } from './retryPolicy.js';

export interface TransportOptions {
  /** The local store, for plain names (opened only when one is used). */
  openStore?: () => Promise<LocalStore>;
  /** registries.conf to read instead of the standard places. */
  registriesConf?: string;
  /** false: allow plain HTTP and unverified TLS for every registry (skopeo's --tls-verify=false). */
  tlsVerify?: boolean;
  /** Credentials for every registry, instead of those found in auth.json and docker's config (skopeo's --creds). */
  credentials?: Credentials;
  /** For the registries images are read from, instead of `credentials` (skopeo's --src-creds). */
  sourceCredentials?: Credentials;
  /** For the registry images are written to, instead of `credentials` (skopeo's --dest-creds). */
  destinationCredentials?: Credentials;
  platform?: Platform;
  all?: boolean;
  chunkedThreshold?: number;
  env?: NodeJS.ProcessEnv;
  /** How transient registry failures are retried (DEFAULT_RETRY unless given). */
  retry?: RetryPolicy;
}

export interface OpenedSource {
  source: CopySource;
  /** A fully qualified name for the image, when the source has one (a store tag to give a pulled image). */
  name?: string;
  close(): Promise<void>;
}

export interface OpenedDestination {
  destination: ImageDestination;
  store?: LocalStore;
  close(): Promise<void>;
}

const noop = async () => undefined;

/**
 * Opens images wherever they live and writes them anywhere, sharing one
 * session (connection pool, tokens) per registry host and one
 * registries.conf for the whole operation.
 */
export class ImageTransports {
  private readonly sessions = new Map<string, RegistrySession>();
  private store?: Promise<LocalStore>;
  private cache?: BlobLocationCache;

  private constructor(
    readonly registries: RegistriesConfig,
    private readonly opts: TransportOptions,
  ) {}

  static async create(opts: TransportOptions = {}): Promise<ImageTransports> {
    return new ImageTransports(await loadRegistriesConf(opts.registriesConf, opts.env), opts);
  }

  async close(): Promise<void> {
    try {
      await this.cache?.save();
    } finally {
      await Promise.all([...this.sessions.values()].map((s) => s.close()));
      this.sessions.clear();
    }
  }

  localStore(): Promise<LocalStore> {
    if (!this.opts.openStore) throw new ImageLocationError('no-store', 'no local store is available here');
    this.store ??= this.opts.openStore();
    return this.store;
  }

  /** Kept beside the store, which starts opening here (created, when new) while the caller goes on talking to a registry. */
  private blobCache(): BlobLocationCache {
    if (!this.cache) {
      const file = this.opts.openStore ? awaitedElsewhere(this.localStore().then((store) => join(store.cacheDir, 'blob-locations.json'))) : undefined;
      this.cache = new BlobLocationCache(file);
    }
    return this.cache;
  }

  session(host: string, insecure = false, push = false): RegistrySession {
    const credentials = (push ? this.opts.destinationCredentials : this.opts.sourceCredentials) ?? this.opts.credentials;
    // Reading and writing get separate sessions only when they use separate credentials.
    const key = `${host} ${insecure} ${credentials === this.opts.credentials ? '' : push}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = new RegistrySession(host, { insecure: insecure || this.opts.tlsVerify === false, credentials, env: this.opts.env, retry: this.opts.retry });
      this.sessions.set(key, s);
    }
    return s;
  }

  repository(candidate: PullCandidate, push = false): RepositoryClient {
    return new RepositoryClient(this.session(candidate.registry, candidate.insecure, push), candidate.repository, { push, chunkedThreshold: this.opts.chunkedThreshold });
  }

  /** The fully qualified names a docker reference may mean, each with its pull candidates (mirrors first). */
  resolveDockerReference(reference: string, forPush = false): { name: ImageName; candidates: PullCandidate[] }[] {
    return qualifyName(this.registries, reference).map((name) => ({ name, candidates: pullCandidates(this.registries, name, forPush) }));
  }

  /** Finds the image behind a docker reference, with the store opening meanwhile; a store that cannot be opened fails it before any blob moves. */
  private async openDockerSource(reference: string): Promise<OpenedSource> {
    const found = await this.findDockerSource(reference, this.blobCache());
    if (this.opts.openStore) await this.localStore();
    return found;
  }

  /** Tries search registries and mirrors in order. */
  private async findDockerSource(reference: string, cache: BlobLocationCache): Promise<OpenedSource> {
    const failures: string[] = [];
    let last: unknown;
    for (const { name, candidates } of this.resolveDockerReference(reference)) {
      for (const candidate of candidates) {
        const client = this.repository(candidate);
        try {
          const source = await remoteSource(client, name.digest ?? name.tag ?? 'latest', { platform: this.opts.platform, all: this.opts.all }, cache);
          return { source, name: formatImageName(name), close: noop };
        } catch (e) {
          // Any failure of one candidate sends the pull on to the next; all of them are reported together.
          if (!(e instanceof Error)) throw e;
          failures.push(`${candidate.registry}/${candidate.repository}: ${e.message}`);
          last = e;
        }
      }
    }
    if (failures.length === 1) throw new TransferError('unavailable', failures[0]!, { cause: last });
    throw new TransferError('unavailable', `cannot read ${reference} from any registry:\n  ${failures.join('\n  ')}`, { cause: last });
  }

  async openSource(loc: ImageLocation): Promise<OpenedSource> {
    const choice = { platform: this.opts.platform, all: this.opts.all };
    switch (loc.transport) {
      case 'docker':
        return this.openDockerSource(loc.reference);
      case 'oci':
        return { source: await openOciDirSource(loc.path, loc.ref, choice), close: noop };
      case 'oci-archive': {
        const tmp = this.opts.openStore ? (await this.localStore()).tmpDir : undefined;
        return openOciArchiveSource(loc.path, loc.ref, choice, tmp);
      }
      case 'docker-archive':
        return { source: { kind: 'image', image: await openDockerArchive(loc.path, loc.ref) }, close: noop };
      case 'store': {
        const store = await this.localStore();
        const found = await store.resolve(loc.name);
        return { source: await layoutSource(store.layout, found.descriptor, choice), name: found.name, close: noop };
      }
    }
  }

  /**
   * Where the location gives no REF, `names` name the image in destinations that record
   * names (an OCI layout's ref names, a docker archive's RepoTags, as `build --output`
   * names it by its tags); without them a docker archive takes `defaultName` (the source's).
   */
  async openDestination(loc: ImageLocation, defaultName?: string, names?: string[]): Promise<OpenedDestination> {
    if (loc.transport === 'docker-archive' && typeof loc.ref === 'number') {
      throw new ImageLocationError('invalid-location', `${formatImageLocation(loc)}: an image index (@N) names an image to read, not one to write`);
    }
    const refs = loc.transport === 'docker' || loc.transport === 'store' || loc.ref === undefined ? names : [String(loc.ref)];
    switch (loc.transport) {
      case 'docker': {
        const [target, ...more] = this.resolveDockerReference(loc.reference, true);
        if (!target || more.length > 0) throw new ImageLocationError('not-qualified', `push needs a fully qualified destination (registry/repository[:tag]), not "${loc.reference}"`);
        const client = this.repository(target.candidates[0]!, true);
        return { destination: new RegistryDestination(client, target.name.digest ? undefined : target.name.tag, this.blobCache()), close: noop };
      }
      case 'oci':
        return { destination: await openOciDirDestination(loc.path, refs ?? []), close: noop };
      case 'oci-archive': {
        const d = await OciArchiveDestination.create(loc.path, refs ?? [], this.opts.openStore ? (await this.localStore()).tmpDir : undefined);
        return { destination: d, close: () => d.close() };
      }
      case 'docker-archive': {
        const repoTags = refs ?? (defaultName ? [defaultName] : []);
        const d = await DockerArchiveDestination.create(loc.path, () => repoTags, this.opts.openStore ? (await this.localStore()).tmpDir : undefined);
        return { destination: d, close: () => d.close() };
      }
      case 'store': {
        const store = await this.localStore();
        const name = normalizeImageName(loc.name);
        return { destination: new OciLayoutDestination(store.layout, async (d) => void (await store.tag(d, [name]))), store, close: noop };
      }
    }
  }

  /**
   * Copies one image (or, with `all`, an index) from `src` to `dst`; `dst` may
   * be derived from the source's name (push's default destination, pull's
   * store name). Returns the root descriptor written and where it went.
   */
  async copy(
    src: ImageLocation,
    dst: ImageLocation | ((sourceName: string | undefined) => ImageLocation),
    opts: CopyOptions & { onStart?: (target: ImageLocation) => void; names?: string[] } = {},
  ): Promise<{ descriptor: Descriptor; target: ImageLocation }> {
    return this.copyOpened(await this.openSource(src), dst, opts);
  }

  /** `copy` of a source already opened (whose manifest a caller has read meanwhile); closes it. */
  async copyOpened(
    source: OpenedSource,
    dst: ImageLocation | ((sourceName: string | undefined) => ImageLocation),
    opts: CopyOptions & { onStart?: (target: ImageLocation) => void; names?: string[] } = {},
  ): Promise<{ descriptor: Descriptor; target: ImageLocation }> {
    try {
      const target = typeof dst === 'function' ? dst(source.name) : dst;
      const destination = await this.openDestination(target, source.name, opts.names);
      try {
        opts.onStart?.(target);
        const run = () => copySource(source.source, destination.destination, opts);
        const descriptor = destination.store ? await destination.store.lease(run) : await run();
        return { descriptor, target };
      } finally {
        await destination.close();
      }
    } finally {
      await source.close();
    }
  }
}
