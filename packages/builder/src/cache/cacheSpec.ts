import { resolve } from 'node:path';
import { formatImageLocation, ImageLocationError, parseImageLocation, ToolError, TOOL_FAILURE_EXIT_CODE, type ImageLocation } from '@tsbuild/oci-layout';

/** mode=min: the final stage's steps (what its image is made of); mode=max: every stage's. */
export type CacheMode = 'min' | 'max';

/** Where `--cache-to` writes a build's steps. */
export type CacheExportSpec =
  | { type: 'registry'; ref: string; mode: CacheMode }
  | { type: 'local'; dir: string; tag: string; mode: CacheMode }
  | { type: 'inline' };

/** Where `--cache-from` reads steps: a cache artifact, or an image carrying inline cache metadata. */
export type CacheImportSpec = { type: 'registry'; ref: string } | { type: 'local'; dir: string; tag: string };

/** A `--cache-to`/`--cache-from` value tsbuild cannot use: bad input, docker's 125. */
export class CacheSpecError extends ToolError<'invalid-cache-spec'> {
  constructor(message: string) {
    super('invalid-cache-spec', message, TOOL_FAILURE_EXIT_CODE);
  }
}

/** The tag a local cache is kept under in its OCI layout, as buildx's `tag=` defaults it. */
const DEFAULT_LOCAL_TAG = 'latest';

/** `k=v,k=v` fields, as buildx spells them; a value without `type=` is a registry ref (`--cache-from user/app:cache`). */
function fields(value: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!value.includes('=')) return new Map([['type', 'registry'], ['ref', value]]);
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new CacheSpecError(`invalid ${flag} "${value}": "${field}" is not KEY=VALUE`);
    out.set(field.slice(0, eq).trim(), field.slice(eq + 1).trim());
  }
  return out;
}

function mode(f: Map<string, string>, value: string, flag: string): CacheMode {
  const m = f.get('mode') ?? 'min';
  if (m !== 'min' && m !== 'max') throw new CacheSpecError(`invalid ${flag} "${value}": mode must be min or max, not "${m}"`);
  return m;
}

function required(f: Map<string, string>, key: string, value: string, flag: string, example: string): string {
  const v = f.get(key);
  if (!v) throw new CacheSpecError(`invalid ${flag} "${value}": needs ${key}= (e.g. ${example})`);
  return v;
}

/**
 * A registry cache's `ref=`, read by the one image-location parser: a plain
 * reference (buildx's spelling) or `docker://REF`; any other transport is a
 * local cache's job (type=local).
 */
function registryRef(f: Map<string, string>, value: string, flag: string): string {
  const text = required(f, 'ref', value, flag, 'type=registry,ref=registry.example/app:cache');
  let loc: ImageLocation;
  try {
    loc = parseImageLocation(text);
  } catch (e) {
    if (!(e instanceof ImageLocationError)) throw e;
    throw new CacheSpecError(`invalid ${flag} "${value}": ${e.message}`);
  }
  if (loc.transport === 'store') return loc.name;
  if (loc.transport === 'docker') return loc.reference;
  throw new CacheSpecError(`invalid ${flag} "${value}": a registry cache's ref is REGISTRY/REPO[:TAG] or docker://REF, not ${formatImageLocation(loc)} (an OCI layout is type=local)`);
}

function refuseUnknown(f: Map<string, string>, known: string[], value: string, flag: string): void {
  for (const key of f.keys()) {
    if (!known.includes(key)) throw new CacheSpecError(`invalid ${flag} "${value}": unknown field "${key}" (known: ${known.join(', ')})`);
  }
}

export function parseCacheExport(value: string): CacheExportSpec {
  const flag = '--cache-to';
  const f = fields(value, flag);
  switch (f.get('type')) {
    case 'registry':
      refuseUnknown(f, ['type', 'ref', 'mode'], value, flag);
      return { type: 'registry', ref: registryRef(f, value, flag), mode: mode(f, value, flag) };
    case 'local':
      refuseUnknown(f, ['type', 'dest', 'tag', 'mode'], value, flag);
      return { type: 'local', dir: resolve(required(f, 'dest', value, flag, 'type=local,dest=./cache')), tag: f.get('tag') || DEFAULT_LOCAL_TAG, mode: mode(f, value, flag) };
    case 'inline':
      refuseUnknown(f, ['type', 'mode'], value, flag);
      // The image carries its own layers only: an inline cache can describe nothing else.
      if (f.get('mode') === 'max') throw new CacheSpecError(`invalid ${flag} "${value}": an inline cache only supports mode=min`);
      return { type: 'inline' };
    default:
      throw new CacheSpecError(`invalid ${flag} "${value}": type must be registry, local or inline`);
  }
}

export function parseCacheImport(value: string): CacheImportSpec {
  const flag = '--cache-from';
  const f = fields(value, flag);
  switch (f.get('type')) {
    case 'registry':
      refuseUnknown(f, ['type', 'ref'], value, flag);
      return { type: 'registry', ref: registryRef(f, value, flag) };
    case 'local':
      refuseUnknown(f, ['type', 'src', 'tag'], value, flag);
      return { type: 'local', dir: resolve(required(f, 'src', value, flag, 'type=local,src=./cache')), tag: f.get('tag') || DEFAULT_LOCAL_TAG };
    default:
      throw new CacheSpecError(`invalid ${flag} "${value}": type must be registry or local`);
  }
}

/** How a cache location is named in warnings and progress lines. */
export function describeCacheLocation(spec: CacheImportSpec | CacheExportSpec): string {
  switch (spec.type) {
    case 'registry':
      return `registry ${spec.ref}`;
    case 'local':
      return `local ${spec.dir}:${spec.tag}`;
    case 'inline':
      return 'inline';
  }
}
