import { InvalidDigestError, parseDigest, type Digest } from './digest.js';
import { printableText } from './printableText.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './mediaTypes.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` object of an image configuration (Docker and OCI share these keys). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

export class InvalidDocumentError extends Error {}

type Json = Record<string, unknown>;

function fail(what: string, message: string): never {
  // Documents come from registries and archives: what they hold is quoted in the message, escaped.
  throw new InvalidDocumentError(`invalid ${what}: ${printableText(message)}`);
}

function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what, 'expected a JSON object');
  return value as Json;
}

function optionalString(obj: Json, key: string, what: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(what, `"${key}" must be a string`);
  return v;
}

/** A string field the OCI Go types write with `omitempty`: there '' means absent, so it is read as absent. */
function nonEmptyString(obj: Json, key: string, what: string): string | undefined {
  return optionalString(obj, key, what) || undefined;
}

/** Sets an optional field only when the document has it, so that an absent one stays absent (no `key: undefined`). */
function setIfPresent<K extends string, V>(out: { [P in K]?: V }, key: K, value: V | undefined): void {
  if (value !== undefined) out[key] = value;
}

function stringMap(obj: Json, key: string, what: string): Record<string, string> | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const map = object(v, `${what} ${key}`);
  for (const [k, val] of Object.entries(map)) {
    if (typeof val !== 'string') fail(what, `"${key}.${k}" must be a string`);
  }
  return map as Record<string, string>;
}

function stringArray(v: unknown, what: string, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(what, `"${key}" must be an array of strings`);
  return v as string[];
}

function parseJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    fail(what, `not JSON (${(e as Error).message})`);
  }
}

/** A digest field of a document: a malformed one makes the document invalid. */
function documentDigest(value: unknown, what: string, key: string): Digest {
  try {
    return parseDigest(value);
  } catch (e) {
    if (!(e instanceof InvalidDigestError)) throw e;
    fail(what, `"${key}": ${e.message}`);
  }
}

function parsePlatformObject(value: unknown): Platform {
  const p = object(value, 'platform');
  const architecture = optionalString(p, 'architecture', 'platform');
  const os = optionalString(p, 'os', 'platform');
  if (!architecture || !os) fail('platform', 'needs "architecture" and "os"');
  const out: Platform = { architecture, os };
  setIfPresent(out, 'variant', nonEmptyString(p, 'variant', 'platform'));
  setIfPresent(out, 'os.version', nonEmptyString(p, 'os.version', 'platform'));
  setIfPresent(out, 'os.features', stringArray(p['os.features'], 'platform', 'os.features'));
  return out;
}

export function parseDescriptor(value: unknown, what = 'descriptor'): Descriptor {
  const d = object(value, what);
  const mediaType = optionalString(d, 'mediaType', what);
  if (!mediaType) fail(what, 'missing "mediaType"');
  const digest = documentDigest(d.digest, what, 'digest');
  const size = d.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(what, '"size" must be a non-negative integer');
  const out: Descriptor = { mediaType, digest, size };
  setIfPresent(out, 'urls', stringArray(d.urls, what, 'urls'));
  setIfPresent(out, 'annotations', stringMap(d, 'annotations', what));
  if (d.platform !== undefined) out.platform = parsePlatformObject(d.platform);
  setIfPresent(out, 'artifactType', nonEmptyString(d, 'artifactType', what));
  return out;
}

/**
 * Parses an image manifest. `expectedMediaType` is what the referring
 * descriptor (or HTTP Content-Type) claimed; a document that says otherwise is
 * rejected, so one blob cannot be read as two kinds of document.
 */
export function parseManifest(bytes: Uint8Array | string, expectedMediaType?: string): Manifest {
  const m = object(parseJson(bytes, 'manifest'), 'manifest');
  if (m.schemaVersion !== 2) fail('manifest', `schemaVersion must be 2, got ${JSON.stringify(m.schemaVersion)}`);
  if (m.manifests !== undefined) fail('manifest', 'has "manifests": this is an index, not a manifest');
  const mediaType = optionalString(m, 'mediaType', 'manifest') ?? expectedMediaType ?? MediaType.ociManifest;
  if (!isManifestMediaType(mediaType)) fail('manifest', `unsupported mediaType "${mediaType}"`);
  if (expectedMediaType && isManifestMediaType(expectedMediaType) && expectedMediaType !== mediaType) {
    fail('manifest', `mediaType "${mediaType}" does not match the descriptor's "${expectedMediaType}"`);
  }
  if (expectedMediaType && !isManifestMediaType(expectedMediaType)) {
    fail('manifest', `referenced as "${expectedMediaType}", which is not a manifest type`);
  }
  if (!Array.isArray(m.layers)) fail('manifest', '"layers" must be an array');
  const out: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: parseDescriptor(m.config, 'manifest config descriptor'),
    layers: m.layers.map((l, i) => parseDescriptor(l, `manifest layer ${i}`)),
  };
  return withSharedFields(out, m, 'manifest');
}

/** The optional fields manifests and indexes share (artifactType, subject, annotations), read onto `out`. */
function withSharedFields<T extends Manifest | Index>(out: T, m: Json, what: 'manifest' | 'index'): T {
  setIfPresent(out, 'artifactType', nonEmptyString(m, 'artifactType', what));
  if (m.subject !== undefined) out.subject = parseDescriptor(m.subject, `${what} subject`);
  setIfPresent(out, 'annotations', stringMap(m, 'annotations', what));
  return out;
}

export function parseIndex(bytes: Uint8Array | string, expectedMediaType?: string): Index {
  const m = object(parseJson(bytes, 'index'), 'index');
  if (m.schemaVersion !== 2) fail('index', `schemaVersion must be 2, got ${JSON.stringify(m.schemaVersion)}`);
  if (m.layers !== undefined || m.config !== undefined) fail('index', 'has "layers"/"config": this is a manifest, not an index');
  const mediaType = optionalString(m, 'mediaType', 'index');
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) fail('index', `unsupported mediaType "${mediaType}"`);
  if (expectedMediaType && !isIndexMediaType(expectedMediaType)) {
    fail('index', `referenced as "${expectedMediaType}", which is not an index type`);
  }
  if (expectedMediaType && mediaType !== undefined && mediaType !== expectedMediaType) {
    fail('index', `mediaType "${mediaType}" does not match the descriptor's "${expectedMediaType}"`);
  }
  if (!Array.isArray(m.manifests)) fail('index', '"manifests" must be an array');
  const out: Index = {
    schemaVersion: 2,
    ...(mediaType ? { mediaType } : {}),
    manifests: m.manifests.map((d, i) => parseDescriptor(d, `index entry ${i}`)),
  };
  return withSharedFields(out, m, 'index');
}

function objectSet(c: Json, key: string): Record<string, object> | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  const o = object(v, `image config ${key}`);
  return Object.fromEntries(Object.keys(o).map((k) => [k, {}]));
}

/** Durations (nanoseconds) and counts: non-negative integers, as the Docker engine writes them. */
function optionalCount(obj: Json, key: string, what: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(what, `"${key}" must be a non-negative integer`);
  return v;
}

function parseHealthConfig(value: unknown): HealthConfig {
  const what = 'image config Healthcheck';
  const h = object(value, what);
  const out: HealthConfig = {};
  setIfPresent(out, 'Test', stringArray(h.Test, what, 'Test'));
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) setIfPresent(out, key, optionalCount(h, key, what));
  return out;
}

function parseContainerConfig(value: unknown): ContainerConfig {
  const c = object(value, 'image config "config"');
  const what = 'image config';
  const out: ContainerConfig = {};
  setIfPresent(out, 'User', optionalString(c, 'User', what));
  setIfPresent(out, 'ExposedPorts', objectSet(c, 'ExposedPorts'));
  setIfPresent(out, 'Env', stringArray(c.Env, what, 'Env'));
  if (c.Entrypoint !== undefined) out.Entrypoint = stringArray(c.Entrypoint, what, 'Entrypoint') ?? null;
  if (c.Cmd !== undefined) out.Cmd = stringArray(c.Cmd, what, 'Cmd') ?? null;
  setIfPresent(out, 'Volumes', objectSet(c, 'Volumes'));
  setIfPresent(out, 'WorkingDir', optionalString(c, 'WorkingDir', what));
  setIfPresent(out, 'Labels', stringMap(c, 'Labels', what));
  setIfPresent(out, 'StopSignal', optionalString(c, 'StopSignal', what));
  if (typeof c.ArgsEscaped === 'boolean') out.ArgsEscaped = c.ArgsEscaped;
  if (c.Healthcheck !== undefined && c.Healthcheck !== null) out.Healthcheck = parseHealthConfig(c.Healthcheck);
  if (c.OnBuild !== undefined) out.OnBuild = stringArray(c.OnBuild, what, 'OnBuild') ?? null;
  setIfPresent(out, 'Shell', stringArray(c.Shell, what, 'Shell'));
  return out;
}

export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  const c = object(parseJson(bytes, 'image config'), 'image config');
  const what = 'image config';
  const architecture = optionalString(c, 'architecture', what);
  const os = optionalString(c, 'os', what);
  if (!architecture || !os) fail(what, 'needs "architecture" and "os"');
  const rootfs = object(c.rootfs, 'image config rootfs');
  if (rootfs.type !== 'layers') fail(what, 'rootfs.type must be "layers"');
  if (!Array.isArray(rootfs.diff_ids)) fail(what, 'rootfs.diff_ids must be an array');
  const out: ImageConfig = {
    architecture,
    os,
    rootfs: { type: 'layers', diff_ids: rootfs.diff_ids.map((d, i) => documentDigest(d, what, `rootfs.diff_ids[${i}]`)) },
  };
  setIfPresent(out, 'created', nonEmptyString(c, 'created', what));
  setIfPresent(out, 'author', nonEmptyString(c, 'author', what));
  setIfPresent(out, 'variant', nonEmptyString(c, 'variant', what));
  setIfPresent(out, 'os.version', nonEmptyString(c, 'os.version', what));
  if (c.config !== undefined && c.config !== null) out.config = parseContainerConfig(c.config);
  if (c.history !== undefined) {
    if (!Array.isArray(c.history)) fail(what, '"history" must be an array');
    out.history = c.history.map((h) => {
      const o = object(h, 'image config history entry');
      const e: HistoryEntry = {};
      for (const k of ['created', 'created_by', 'author', 'comment'] as const) setIfPresent(e, k, optionalString(o, k, 'image config history entry'));
      if (o.empty_layer === true) e.empty_layer = true;
      return e;
    });
  }
  return out;
}

/** Largest manifest, index or config read into memory (registries cap manifests at 4 MiB). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** Serialises a document the way we store and push it: compact, key order as built. */
export function canonicalJson(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}
