import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token given by an earlier login (docker's `identitytoken`). */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's historical key in docker's config.json. */
const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'];

/** containers auth.json files, in the order podman and skopeo read them. */
export function containersAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'containers', 'auth.json'));
  return files;
}

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

/** Where `login` writes: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json, else ~/.config/containers/auth.json. */
export function loginAuthFile(env: NodeJS.ProcessEnv = process.env): string {
  return containersAuthFiles(env)[0]!;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as AuthFile;
  } catch (e) {
    throw new Error(`cannot read credentials from ${path}: ${(e as Error).message}`);
  }
}

function decodeEntry(entry: AuthEntry, where: string): Credentials | undefined {
  const out: Credentials = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error(`${where}: "auth" must be base64 of user:password`);
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

function entryFor(auths: Record<string, AuthEntry>, keys: string[]): [string, AuthEntry] | undefined {
  for (const key of keys) {
    for (const [k, v] of Object.entries(auths)) {
      if (k.replace(/^https?:\/\//, '').replace(/\/v[12]\/?$/, '').replace(/\/$/, '') === key.replace(/^https?:\/\//, '')) return [k, v];
    }
  }
  return undefined;
}

/** Runs `docker-credential-<helper> get` with the registry on stdin, as docker does. */
export function credentialHelperGet(helper: string, registry: string): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        if (/credentials not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
        return reject(new Error(`credential helper docker-credential-${helper} failed for ${registry}: ${(stderr || stdout || err.message).trim()}`));
      }
      try {
        const doc = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!doc.Secret) return resolve(undefined);
        resolve(doc.Username === '<token>' ? { identityToken: doc.Secret } : { username: doc.Username ?? '', password: doc.Secret });
      } catch {
        reject(new Error(`credential helper docker-credential-${helper} printed something that is not JSON`));
      }
    });
    child.stdin?.end(registry);
  });
}

/**
 * Finds credentials for a registry the way podman and docker do: containers
 * auth.json files first, then docker's config.json (a credential helper for
 * that registry, else the credsStore, else its `auths`).
 */
export async function findCredentials(registry: string, repository?: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const keys = lookupKeys(registry, repository);
  for (const path of containersAuthFiles(env)) {
    const file = await readAuthFile(path);
    const found = file?.auths && entryFor(file.auths, keys);
    if (found) return decodeEntry(found[1], path);
  }
  const dockerPath = dockerConfigFile(env);
  const docker = await readAuthFile(dockerPath);
  if (!docker) return undefined;
  const helper = keys.map((k) => docker.credHelpers?.[k]).find(Boolean);
  if (helper) return credentialHelperGet(helper, registry);
  const found = docker.auths && entryFor(docker.auths, keys);
  if (docker.credsStore) {
    const fromStore = await credentialHelperGet(docker.credsStore, registry);
    if (fromStore) return fromStore;
  }
  return found ? decodeEntry(found[1], dockerPath) : undefined;
}

async function writeAuthFile(path: string, file: AuthFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(file, null, '\t')}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Records credentials in the containers auth.json `login` writes to; returns that file. */
export async function saveCredentials(registry: string, username: string, password: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = loginAuthFile(env);
  const file = (await readAuthFile(path)) ?? {};
  file.auths = { ...file.auths, [registry]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  await writeAuthFile(path, file);
  return path;
}

/** Removes a registry's entry from the auth.json `login` writes to; false when there was none. */
export async function removeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = loginAuthFile(env);
  const file = await readAuthFile(path);
  if (!file?.auths || !(registry in file.auths)) return false;
  delete file.auths[registry];
  await writeAuthFile(path, file);
  return true;
}
