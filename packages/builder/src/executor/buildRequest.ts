import { ToolError, type Compression, type Descriptor, type Digest, type Image, type ImageFormat, type ImageLocation, type Platform } from '@tsbuild/oci-layout';
import type { SharedCacheRequest } from '../cache/sharedCache.js';
import type { StepCacheReport } from '../cache/missExplanation.js';
import type { RunSettings } from '../runtime/runSettings.js';

/** `--build-context NAME=...`: a directory for COPY --from / RUN --mount from, or an image standing in for FROM NAME. */
/** An image context is looked up as FROM looks up its name (a `store` location: the store, then its registry). */
export type NamedContext = { kind: 'dir'; dir: string } | { kind: 'image'; location: ImageLocation };

export interface BuildRequest extends SharedCacheRequest {
  contextDir: string;
  /** Path of the Dockerfile; default `<context>/Dockerfile`. */
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  compression: Compression;
  /** `--format docker`: the image leaves the store (push, save) as Docker schema2; default OCI. */
  format?: ImageFormat;
  /** SOURCE_DATE_EPOCH: fixes `created` and clamps file mtimes, for reproducible digests. */
  sourceDateEpoch?: number;
  target?: string;
  /** `--secret id=X,src=FILE` for `RUN --mount=type=secret`. */
  secrets?: Record<string, string>;
  /** Default network for RUN steps (`RUN --network` overrides). */
  network?: 'host' | 'none';
  /** Progress lines (`STEP 2/5: COPY ...`) and RUN output, line by line. */
  log: (line: string) => void;
  /** Cancels the build (Ctrl-C); cleanup still runs. */
  signal?: AbortSignal;
  /** Execute every step even when the build cache has it. */
  noCache?: boolean;
  /** Log why each step missed the cache (`--> Cache miss: ...`) and report every step in BuildResult.cache. */
  explainCache?: boolean;
  /** Target platform; default this machine's. */
  platform?: Platform;
  /** For base images pulled from registries. */
  registriesConf?: string;
  tlsVerify?: boolean;
  /** BuildKit's named contexts, by name. */
  buildContexts?: Record<string, NamedContext>;
  /** `--pull`: look a base image up in its registry even when the store has it. */
  pull?: boolean;
  /** --add-host, --ulimit, --shm-size: how every RUN's container is set up. */
  runSettings?: RunSettings;
  /** The Dockerfile's text (`-f -`, or a Dockerfile as the stdin context); `dockerfile` is then not read. */
  dockerfileText?: string;
}

export interface BuildResult {
  digest: Digest;
  /** The image's manifest, as stored. */
  descriptor: Descriptor;
  /** The image itself, in the store: what any ImageDestination accepts through the copy loop. */
  image: Image;
  names: string[];
  warnings: string[];
  /** With `explainCache`: each step, cached or not and why. */
  cache?: StepCacheReport[];
}

/** A build stopped by a signal: the shell's 128 + SIGINT. */
export class BuildInterruptedError extends ToolError<'interrupted'> {
  constructor(message: string) {
    super('interrupted', message, 130);
  }
}
