import { execFile } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FAILURE_EXIT_CODE, readJsonIfExists, statIfExists, ToolError } from '@tsbuild/oci-layout';
import { userContainersDir } from './containersConfigDir.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token given by an earlier login (docker's `identitytoken`). */
  identityToken?: string;
}

/** An auth file, docker config.json or credential helper that cannot be used: what is wrong and in which file. */
export class CredentialsError extends ToolError<'credentials'> {
  constructor(message: string, options?: ErrorOptions) {
    super('credentials', message, FAILURE_EXIT_CODE, options);
  }
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

/** An auth file (containers-auth.json(5), or docker's config.json) checked into the parts lookups use. */
interface AuthFile {
  auths: Map<string, AuthEntry>;
  credHelpers: Map<string, string>;
  credsStore?: string;
  /** The document as read: a rewrite keeps the keys this code does not use (docker's config.json has many). */
  document: Record<string, unknown>;
}

/** Docker Hub's historical key in docker's config.json. */
const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'];

/**
 * The primary auth file, the one `login` writes and lookups read first, where
 * skopeo and podman keep it: $REGISTRY_AUTH_FILE, else
 * ${XDG_RUNTIME_DIR}/containers/auth.json, else /run/containers/UID/auth.json.
 */
export function loginAuthFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  return `/run/containers/${process.getuid?.() ?? 0}/auth.json`;
}

function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

/**
 * Every file credentials are looked up in, first match wins, in skopeo's order
 * (containers-auth.json(5)): the primary file, then
 * ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json, then docker's config.json.
 */
function credentialFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set([loginAuthFile(env), join(userContainersDir(env), 'auth.json'), dockerConfigFile(env)])];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field; null counts as absent, as Go's decoder (skopeo, docker) reads it. */
function stringField(value: unknown, path: string, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new CredentialsError(`cannot read credentials from ${path}: ${what} must be a string`);
  return value;
}

/** A credential helper's name: the suffix of a program looked up on PATH, so never a path of its own. */
function helperName(value: unknown, path: string, what: string): string | undefined {
  const name = stringField(value, path, what);
  if (name !== undefined && /[/\0]/.test(name)) throw new CredentialsError(`cannot read credentials from ${path}: ${what} is not a credential helper name: ${JSON.stringify(name)}`);
  return name;
}

/** The parts of an auth file lookups use, each checked for its type, as skopeo's decoder refuses a file with a mistyped field. */
function parseAuthFile(doc: unknown, path: string): AuthFile {
  const invalid = (message: string) => new CredentialsError(`cannot read credentials from ${path}: ${message}`);
  if (!isObject(doc)) throw invalid('not a JSON object');
  const auths = new Map<string, AuthEntry>();
  if (doc.auths !== undefined && doc.auths !== null) {
    if (!isObject(doc.auths)) throw invalid('"auths" must be an object');
    for (const [key, value] of Object.entries(doc.auths)) {
      if (!isObject(value)) throw invalid(`"auths.${key}" must be an object`);
      const entry: AuthEntry = {};
      const auth = stringField(value.auth, path, `"auths.${key}.auth"`);
      if (auth !== undefined) entry.auth = auth;
      const identitytoken = stringField(value.identitytoken, path, `"auths.${key}.identitytoken"`);
      if (identitytoken !== undefined) entry.identitytoken = identitytoken;
      auths.set(key, entry);
    }
  }
  const credHelpers = new Map<string, string>();
  if (doc.credHelpers !== undefined && doc.credHelpers !== null) {
    if (!isObject(doc.credHelpers)) throw invalid('"credHelpers" must be an object');
    for (const [key, value] of Object.entries(doc.credHelpers)) credHelpers.set(key, helperName(value, path, `"credHelpers.${key}"`)!);
  }
  const file: AuthFile = { auths, credHelpers, document: doc };
  const credsStore = helperName(doc.credsStore, path, '"credsStore"');
  if (credsStore) file.credsStore = credsStore;
  return file;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  const doc = await readJsonIfExists(path, (e) => new CredentialsError(`cannot read credentials from ${path}: ${e.message}`));
  return doc === undefined ? undefined : parseAuthFile(doc, path);
}

function decodeEntry(entry: AuthEntry, where: string): Credentials | undefined {
  const out: Credentials = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new CredentialsError(`${where}: "auth" must be base64 of user:password`);
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) out.identityToken = entry.identitytoken;
  return out.username !== undefined || out.identityToken ? out : undefined;
}

/** Keys to try for a registry and repository, most specific first (auth.json allows `host/namespace/repo` keys). */
function lookupKeys(registry: string, repository?: string): string[] {
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  }
  keys.push(registry, ...(registry === 'docker.io' ? DOCKER_HUB_KEYS : []));
  return keys;
}

function entryFor(auths: Map<string, AuthEntry>, keys: string[]): [string, AuthEntry] | undefined {
  for (const key of keys) {
    for (const [k, v] of auths) {
      if (k.replace(/^https?:\/\//, '').replace(/\/v[12]\/?$/, '').replace(/\/$/, '') === key.replace(/^https?:\/\//, '')) return [k, v];
    }
  }
  return undefined;
}

/** The server URL docker stores a registry's credentials under in a helper (Docker Hub keeps its historical URL). */
function helperServerUrl(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin, as docker does. */
function credentialHelperGet(helper: string, serverUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['get'], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        if (/credentials not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new CredentialsError(`credential helper ${program} is not installed (not found on PATH)`));
        return reject(new CredentialsError(`credential helper ${program} failed for ${serverUrl}: ${(stderr || stdout || err.message).trim()}`));
      }
      try {
        const doc = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!doc.Secret) return resolve(undefined);
        resolve(doc.Username === '<token>' ? { identityToken: doc.Secret } : { username: doc.Username ?? '', password: doc.Secret });
      } catch (e) {
        // JSON.parse's SyntaxError is the one failure here; anything else is passed on as it is.
        reject(e instanceof SyntaxError ? new CredentialsError(`credential helper ${program} printed something that is not JSON`) : e);
      }
    });
    // A helper may exit without reading stdin; its exit status, not the broken pipe, says what happened.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(serverUrl);
  });
}

async function askHelper(helper: string, registry: string, path: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  try {
    return await credentialHelperGet(helper, helperServerUrl(registry), env);
  } catch (e) {
    if (!(e instanceof CredentialsError)) throw e;
    throw new CredentialsError(`${e.message} (named in ${path})`, { cause: e });
  }
}

/** What one file knows about a registry, in docker's precedence: its credential helper for it, else its credsStore, else its `auths` entry. */
async function credentialsInFile(file: AuthFile, path: string, registry: string, keys: string[], env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const helper = keys.map((k) => file.credHelpers.get(k)).find(Boolean);
  if (helper) return askHelper(helper, registry, path, env);
  if (file.credsStore) {
    const stored = await askHelper(file.credsStore, registry, path, env);
    if (stored) return stored;
  }
  const found = entryFor(file.auths, keys);
  return found ? decodeEntry(found[1], path) : undefined;
}

/** Finds credentials for a registry in the first of `credentialFiles` that has some, as skopeo and podman do. */
export async function findCredentials(registry: string, repository?: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const keys = lookupKeys(registry, repository);
  for (const path of credentialFiles(env)) {
    const file = await readAuthFile(path);
    const found = file && (await credentialsInFile(file, path, registry, keys, env));
    if (found) return found;
  }
  return undefined;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await statIfExists(path))?.isDirectory() ?? false;
}

async function writeAuthFile(path: string, document: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(document, null, '\t')}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Records credentials in the containers auth.json `login` writes to; returns that file. */
export async function saveCredentials(registry: string, username: string, password: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = loginAuthFile(env);
  // As skopeo: a runtime directory that does not exist means a broken session, not a place to create.
  if (!env.REGISTRY_AUTH_FILE && env.XDG_RUNTIME_DIR && !(await isDirectory(env.XDG_RUNTIME_DIR))) {
    throw new CredentialsError(`${env.XDG_RUNTIME_DIR}, set by $XDG_RUNTIME_DIR, is not a directory: create it, or unset XDG_RUNTIME_DIR`);
  }
  const document = (await readAuthFile(path))?.document ?? {};
  // parseAuthFile checked that "auths", when there, is an object.
  const auths = (document.auths ?? {}) as Record<string, unknown>;
  document.auths = { ...auths, [registry]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  await writeAuthFile(path, document);
  return path;
}

/** Removes a registry's entry from the auth.json `login` writes to; false when there was none. */
export async function removeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = loginAuthFile(env);
  const file = await readAuthFile(path);
  if (!file?.auths.has(registry)) return false;
  delete (file.document.auths as Record<string, unknown>)[registry];
  await writeAuthFile(path, file.document);
  return true;
}
