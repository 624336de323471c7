import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import TOML from '@iarna/toml';
import { FAILURE_EXIT_CODE, parseImageName, readdirIfExists, ToolError, type ImageName } from '@tsbuild/oci-layout';
import { userContainersDir } from './containersConfigDir.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface MirrorEntry {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: MirrorEntry[];
}

/** containers-registries.conf(5) v2, merged from the main file and its drop-ins. */
export interface RegistriesConfig {
  unqualifiedSearchRegistries: string[];
  registries: RegistryEntry[];
  /** Short name -> fully qualified name. A Map: a short name such as `constructor` must not find Object's members. */
  aliases: Map<string, string>;
}

const EMPTY_REGISTRIES_CONFIG: RegistriesConfig = { unqualifiedSearchRegistries: [], registries: [], aliases: new Map() };

/** Where one pull may come from: a mirror or the registry itself, with the repository as that place names it. */
export interface PullCandidate {
  registry: string;
  repository: string;
  insecure: boolean;
}

/** A registries.conf that cannot be used, or a pull it forbids: names the file and what is wrong. */
export class RegistriesConfError extends ToolError<'registries-conf'> {
  constructor(message: string, options?: ErrorOptions) {
    super('registries-conf', message, FAILURE_EXIT_CODE, options);
  }
}

function fail(file: string, message: string): never {
  throw new RegistriesConfError(`${file}: ${message}`);
}

/** A TOML table: @iarna/toml gives arrays and dates as objects too. */
function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function str(v: unknown, file: string, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(file, `"${key}" must be a string`);
  return v;
}

function bool(v: unknown, file: string, key: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') fail(file, `"${key}" must be true or false`);
  return v;
}

function parseMirror(raw: unknown, file: string): MirrorEntry {
  if (!isTable(raw)) fail(file, '[[registry.mirror]] must be a table');
  const m = raw;
  const location = str(m.location, file, 'mirror.location');
  if (!location) fail(file, '[[registry.mirror]] needs a "location"');
  const pull = str(m['pull-from-mirror'], file, 'pull-from-mirror') ?? 'all';
  if (!['all', 'digest-only', 'tag-only'].includes(pull)) fail(file, `pull-from-mirror must be all, digest-only or tag-only, not "${pull}"`);
  return { location, insecure: bool(m.insecure, file, 'mirror.insecure'), pullFromMirror: pull as PullFromMirror };
}

function parseRegistry(raw: unknown, file: string): RegistryEntry {
  if (!isTable(raw)) fail(file, '[[registry]] must be a table');
  const r = raw;
  const location = str(r.location, file, 'location');
  const prefix = str(r.prefix, file, 'prefix') ?? location;
  if (!prefix) fail(file, '[[registry]] needs a "prefix" or a "location"');
  const mirrors = r.mirror === undefined ? [] : Array.isArray(r.mirror) ? r.mirror.map((m) => parseMirror(m, file)) : fail(file, '"mirror" must be an array of tables');
  return { prefix, location: location ?? prefix, insecure: bool(r.insecure, file, 'insecure'), blocked: bool(r.blocked, file, 'blocked'), mirrors };
}

/** Parses one registries.conf (or drop-in) and lays it over `base`, as later files override earlier ones. */
function mergeRegistriesConf(base: RegistriesConfig, text: string, file: string): RegistriesConfig {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(text) as Record<string, unknown>;
  } catch (e) {
    // @iarna/toml exports no error class: its syntax errors are Errors named TomlError, with the position in the message.
    if (!(e instanceof Error && e.name === 'TomlError')) throw e;
    fail(file, `not valid TOML: ${e.message.split('\n')[0]}`);
  }
  const out: RegistriesConfig = { unqualifiedSearchRegistries: base.unqualifiedSearchRegistries, registries: [...base.registries], aliases: new Map(base.aliases) };
  const search = doc['unqualified-search-registries'];
  if (search !== undefined) {
    if (!Array.isArray(search) || search.some((s) => typeof s !== 'string')) fail(file, 'unqualified-search-registries must be an array of strings');
    out.unqualifiedSearchRegistries = search as string[];
  }
  if (doc.registry !== undefined) {
    if (!Array.isArray(doc.registry)) fail(file, '"registry" must be an array of tables ([[registry]])');
    for (const entry of doc.registry.map((r) => parseRegistry(r, file))) {
      out.registries = [...out.registries.filter((r) => r.prefix !== entry.prefix), entry];
    }
  }
  if (doc.aliases !== undefined) {
    if (!isTable(doc.aliases)) fail(file, '[aliases] must be a table');
    for (const [k, v] of Object.entries(doc.aliases)) out.aliases.set(k, str(v, file, `aliases.${k}`)!);
  }
  return out;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * Reads registries.conf: FILE when given (with the `registries.conf.d`
 * drop-ins beside it), else $CONTAINERS_REGISTRIES_CONF, else the user's
 * ~/.config/containers/registries.conf when it exists, else
 * /etc/containers/registries.conf; drop-ins apply in name order.
 */
export async function loadRegistriesConf(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistriesConfig> {
  const userDir = userContainersDir(env);
  let main = file ?? env.CONTAINERS_REGISTRIES_CONF;
  if (!main) main = (await readIfExists(join(userDir, 'registries.conf'))) !== undefined ? join(userDir, 'registries.conf') : '/etc/containers/registries.conf';
  let conf = EMPTY_REGISTRIES_CONFIG;
  const text = await readIfExists(main);
  if (text === undefined && file) throw new RegistriesConfError(`registries.conf ${file} does not exist`);
  if (text !== undefined) conf = mergeRegistriesConf(conf, text, main);
  const dropInDirs = file || env.CONTAINERS_REGISTRIES_CONF ? [join(dirname(main), 'registries.conf.d')] : ['/etc/containers/registries.conf.d', join(userDir, 'registries.conf.d')];
  for (const dir of dropInDirs) {
    const names = (await readdirIfExists(dir)).filter((n) => n.endsWith('.conf')).sort();
    for (const name of names) conf = mergeRegistriesConf(conf, (await readFile(join(dir, name), 'utf8')), join(dir, name));
  }
  return conf;
}

function prefixMatches(prefix: string, name: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0]!;
    return host.endsWith(prefix.slice(1));
  }
  return name === prefix || name.startsWith(`${prefix}/`) || name.startsWith(`${prefix}:`) || name.startsWith(`${prefix}@`);
}

/** The [[registry]] entry with the longest prefix matching `registry/repository`. */
function findRegistryEntry(conf: RegistriesConfig, registry: string, repository: string): RegistryEntry | undefined {
  const name = `${registry}/${repository}`;
  let best: RegistryEntry | undefined;
  for (const entry of conf.registries) {
    if (prefixMatches(entry.prefix, name) && (!best || entry.prefix.length > best.prefix.length)) best = entry;
  }
  return best;
}

function relocate(location: string, prefix: string, name: string): { registry: string; repository: string } {
  const rewritten = prefix.startsWith('*.') ? name : `${location}${name.slice(prefix.length)}`;
  const slash = rewritten.indexOf('/');
  return { registry: rewritten.slice(0, slash), repository: rewritten.slice(slash + 1) };
}

/**
 * Where to pull `name` from, in order: its mirrors (as `pull-from-mirror`
 * allows for a tag or digest reference), then its location. A blocked
 * registry is refused.
 */
export function pullCandidates(conf: RegistriesConfig, name: ImageName, forPush = false): PullCandidate[] {
  const entry = findRegistryEntry(conf, name.registry, name.repository);
  if (!entry) return [{ registry: name.registry, repository: name.repository, insecure: false }];
  const full = `${name.registry}/${name.repository}`;
  if (entry.blocked) throw new RegistriesConfError(`registry ${name.registry} is blocked in registries.conf (prefix "${entry.prefix}")`);
  const primary = { ...relocate(entry.location, entry.prefix, full), insecure: entry.insecure };
  if (forPush) return [primary];
  const byDigest = name.digest !== undefined;
  const mirrors = entry.mirrors
    .filter((m) => m.pullFromMirror === 'all' || (m.pullFromMirror === 'digest-only' ? byDigest : !byDigest))
    .map((m) => ({ ...relocate(m.location, entry.prefix, full), insecure: m.insecure }));
  return [...mirrors, primary];
}

/**
 * The fully qualified names a docker reference may mean: itself when it names
 * a registry; else its alias; else one per unqualified-search registry
 * (docker.io when none is configured).
 */
export function qualifyName(conf: RegistriesConfig, input: string): ImageName[] {
  const bare = parseImageName(input, '');
  if (bare.registry !== '') return [bare];
  const short = input.replace(/[:@].*$/, '');
  const alias = conf.aliases.get(short);
  const suffix = input.slice(short.length);
  if (alias) return [parseImageName(`${alias}${bare.digest || input.includes(':') ? suffix : ''}`)];
  const search = conf.unqualifiedSearchRegistries.length > 0 ? conf.unqualifiedSearchRegistries : ['docker.io'];
  return search.map((registry) => parseImageName(`${registry}/${input}`));
}
