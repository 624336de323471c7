import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImageName } from '@tsbuild/oci-layout';
import {
  CredentialsError, findCredentials, loadRegistriesConf, pullCandidates, qualifyName, RegistriesConfError, removeCredentials, saveCredentials,
} from '@tsbuild/registry';
import { tempDirs } from '../helpers/tempDirs.js';

/** Bad registries.conf and auth.json files, as the fuzz harness (test/fuzz) fed them: each is a typed, one-line error. */
const dirs = tempDirs();
afterAll(() => dirs.cleanup());

async function confFile(text: string): Promise<string> {
  const dir = await dirs.make();
  const file = join(dir, 'registries.conf');
  await writeFile(file, text);
  return file;
}

describe('registries.conf errors are RegistriesConfError', () => {
  it.each([
    ['not TOML', '[[registry]\nlocation = "x"'],
    ['a registry without prefix or location', '[[registry]]\ninsecure = true'],
    ['a mirror without location', '[[registry]]\nlocation = "a.test"\n[[registry.mirror]]\ninsecure = true'],
    ['a bad pull-from-mirror', '[[registry]]\nlocation = "a.test"\n[[registry.mirror]]\nlocation = "m.test"\npull-from-mirror = "sometimes"'],
    ['aliases that are a date', 'aliases = 1979-05-27'],
    ['aliases that are an array', 'aliases = ["a"]'],
    ['a registry that is an array', 'registry = [[1]]'],
  ])('%s', async (_what, text) => {
    const file = await confFile(text);
    const load = loadRegistriesConf(file, { HOME: await dirs.make() });
    await expect(load).rejects.toThrow(RegistriesConfError);
    await expect(load).rejects.toThrow(file);
  });

  it('a missing file named on the command line, and a blocked registry', async () => {
    await expect(loadRegistriesConf('/nonexistent/registries.conf', {})).rejects.toThrow(RegistriesConfError);
    const conf = await loadRegistriesConf(await confFile('[[registry]]\nlocation = "blocked.test"\nblocked = true'), { HOME: await dirs.make() });
    expect(() => pullCandidates(conf, parseImageName('blocked.test/a:1'))).toThrow(RegistriesConfError);
  });

  it('short names that are Object members are not aliases', async () => {
    const conf = await loadRegistriesConf(await confFile('unqualified-search-registries = ["search.test"]\n[aliases]\n"shorty" = "example.test/team/app"'), { HOME: await dirs.make() });
    // Image names are lowercase, so `constructor` is the Object member a user can type.
    expect(qualifyName(conf, 'constructor').map((n) => `${n.registry}/${n.repository}`)).toEqual(['search.test/constructor']);
    expect(qualifyName(conf, 'shorty').map((n) => `${n.registry}/${n.repository}`)).toEqual(['example.test/team/app']);
  });
});

describe('auth.json errors are CredentialsError', () => {
  async function authEnv(content: string) {
    const dir = await dirs.make();
    const file = join(dir, 'auth.json');
    await writeFile(file, content);
    return { file, env: { REGISTRY_AUTH_FILE: file, HOME: dir, DOCKER_CONFIG: join(dir, 'docker'), PATH: '' } };
  }

  it.each([
    ['not JSON', '{"auths": {'],
    ['not an object', '[1]'],
    ['auths that are a string', '{"auths": "example.test"}'],
    ['an entry that is not an object', '{"auths": {"example.test": "dXNlcjpwYXNz"}}'],
    ['an auth that is a number', '{"auths": {"example.test": {"auth": 1}}}'],
    ['an auth that is no user:password', '{"auths": {"example.test": {"auth": "bm9jb2xvbg=="}}}'],
    ['credHelpers that are an array', '{"credHelpers": ["x"]}'],
    ['a helper that is not installed', '{"credHelpers": {"example.test": "fuzz-missing"}}'],
    ['a helper name with a NUL', '{"credHelpers": {"example.test": "x\\u0000"}}'],
    ['a helper name that is a path', '{"credHelpers": {"example.test": "../../tmp/x"}}'],
    ['a credsStore that is a path', '{"credsStore": "/bin/sh"}'],
  ])('%s: lookups fail with CredentialsError', async (_what, content) => {
    const { env } = await authEnv(content);
    await expect(findCredentials('example.test', 'team/app', env)).rejects.toThrow(CredentialsError);
  });

  it('login and logout refuse a malformed file instead of rewriting it', async () => {
    const { file, env } = await authEnv('{"auths": "example.test"}');
    await expect(saveCredentials('example.test', 'u', 'p', env)).rejects.toThrow(CredentialsError);
    await expect(removeCredentials('example.test', env)).rejects.toThrow(CredentialsError);
    expect(await readFile(file, 'utf8')).toBe('{"auths": "example.test"}');
  });

  it('keeps keys it does not use when it rewrites the file, reads null fields as absent (as Go does), ignores Object members as registry names', async () => {
    const { file, env } = await authEnv('{"auths": {"example.test": {"auth": "dXNlcjpwYXNz", "identitytoken": null}}, "credsStore": null, "HttpHeaders": {"X": "1"}}');
    expect(await findCredentials('constructor', undefined, env)).toBeUndefined();
    expect(await findCredentials('example.test', undefined, env)).toEqual({ username: 'user', password: 'pass' });
    await saveCredentials('other.test', 'a', 'b', env);
    expect(await removeCredentials('example.test', env)).toBe(true);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    expect(doc).toEqual({ auths: { 'other.test': { auth: Buffer.from('a:b').toString('base64') } }, credsStore: null, HttpHeaders: { X: '1' } });
  });
});
