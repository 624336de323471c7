import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * An environment where credentials come only from under `home`: the runtime
 * directory is `home/run` (never the machine's /run/containers), and every
 * other variable that points elsewhere is blanked, which our code and skopeo
 * both read as unset. Extra variables are laid over it.
 */
export function credentialEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), REGISTRY_AUTH_FILE: '', XDG_CONFIG_HOME: '', DOCKER_CONFIG: '', ...extra };
}

/** Writes an auth.json / docker config.json with one `auths` entry, creating its directory. */
export async function writeAuthFile(path: string, host: string, user: string, password: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
}

/**
 * A fake `docker-credential-NAME` in `bin`: it logs `ARG SERVER` to `log`, then
 * answers `get` for `server` with the credentials, and says "credentials not
 * found" (exit 1, as docker's helpers do) for any other server.
 */
export async function writeCredentialHelper(bin: string, name: string, answer: { server: string; user: string; password: string; log: string }): Promise<void> {
  const json = JSON.stringify({ ServerURL: answer.server, Username: answer.user, Secret: answer.password });
  const script = [
    '#!/bin/sh',
    'read -r server',
    `printf '%s %s\\n' "$1" "$server" >> '${answer.log}'`,
    `if [ "$1" = get ] && [ "$server" = '${answer.server}' ]; then printf '%s' '${json}'; exit 0; fi`,
    'echo "credentials not found in native keychain"',
    'exit 1',
  ].join('\n');
  await writeHelperScript(bin, name, script);
}

/** A `docker-credential-NAME` in `bin` that runs the given shell script. */
export async function writeHelperScript(bin: string, name: string, script: string): Promise<void> {
  const path = join(bin, `docker-credential-${name}`);
  await writeFile(path, `${script}\n`);
  await chmod(path, 0o755);
}
