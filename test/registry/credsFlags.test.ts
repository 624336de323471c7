import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialEnv, writeAuthFile } from '../helpers/credentialEnv.js';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tsbuildOnTerminal } from '../helpers/terminal.js';

const dirs = tempDirs();
/** Two registries with different users, so each side of a copy needs its own credentials. */
const A = { user: 'alice', password: 'pa:ss w0rd' };
const B = { user: 'bob', password: 'hunter2' };
let regA: Awaited<ReturnType<typeof startRegistry>>;
let regB: Awaited<ReturnType<typeof startRegistry>>;
let root: string;
let digest: string;
/** Nothing stored: whatever authenticates comes from the flags. */
let env: NodeJS.ProcessEnv;
/** An image registry A holds, pushed with --creds before the tests. */
let image: string;

const credsA = `${A.user}:${A.password}`;
const credsB = `${B.user}:${B.password}`;

function ok(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  return tsbuildOk(args, { env: opts.env ?? env });
}

async function refused(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = await tsbuild(args, { env: opts.env ?? env });
  expect(r.code).toBe(1);
  return r.stderr;
}

async function skopeoDigest(ref: string, creds: string): Promise<string> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${ref}`]);
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  [regA, regB] = await Promise.all([startRegistry({ kind: 'htpasswd', ...A }), startRegistry({ kind: 'htpasswd', ...B })]);
  root = await dirs.make();
  env = credentialEnv(await dirs.make());
  digest = await buildRandomImage(root, 'credsflags', await dirs.make());
  image = `${regA.host}/team/img:1`;
  await ok(['--root', root, 'push', '-q', '--creds', credsA, 'credsflags', `docker://${image}`]);
});

afterAll(async () => {
  await Promise.all([regA?.stop(), regB?.stop()]);
  await dirs.cleanup();
});

describe('--creds USERNAME[:PASSWORD]', () => {
  it('push: the registry holds our digest', async () => {
    expect(await skopeoDigest(image, credsA)).toBe(digest);
    expect(await refused(['--root', root, 'push', 'credsflags', `docker://${regA.host}/team/other:1`])).toMatch(/UNAUTHORIZED|HTTP 401/);
  });

  it('pull', async () => {
    expect((await ok(['--root', await dirs.make(), 'pull', '-q', '--creds', credsA, image])).stdout).toBe(`${digest}\n`);
  });

  it('inspect docker://', async () => {
    const r = await ok(['inspect', '--creds', credsA, `docker://${image}`]);
    expect((JSON.parse(r.stdout) as { digest: string }).digest).toBe(digest);
  });

  it('tags', async () => {
    expect((await ok(['tags', '--creds', credsA, `docker://${regA.host}/team/img`])).stdout).toBe('1\n');
  });

  it('delete', async () => {
    const doomed = `${regA.host}/team/doomed:1`;
    await ok(['--root', root, 'push', '-q', '--creds', credsA, 'credsflags', `docker://${doomed}`]);
    expect(await refused(['delete', `docker://${doomed}`])).toMatch(/UNAUTHORIZED|HTTP 401/);
    expect((await ok(['delete', '--creds', credsA, `docker://${doomed}`])).stdout).toBe(`Deleted ${digest}\n`);
    expect(await refused(['inspect', '--creds', credsA, `docker://${doomed}`])).toContain('MANIFEST_UNKNOWN');
  });

  it('wins over stored credentials, right or wrong', async () => {
    const home = await dirs.make();
    const authFile = join(home, 'auth.json');
    await writeAuthFile(authFile, regA.host, A.user, 'wrong');
    const wrongStored = credentialEnv(home, { REGISTRY_AUTH_FILE: authFile });
    expect((await ok(['inspect', '--creds', credsA, `docker://${image}`], { env: wrongStored })).stdout).toContain(digest);
    await writeAuthFile(authFile, regA.host, A.user, A.password);
    expect(await refused(['inspect', '--creds', `${A.user}:wrong`, `docker://${image}`], { env: wrongStored })).toMatch(/UNAUTHORIZED|HTTP 401/);
  });

  it('USERNAME alone with no terminal: a clear error', async () => {
    const stderr = await refused(['--root', await dirs.make(), 'pull', '--creds', A.user, image]);
    expect(stderr).toBe(`tsbuild: error: --creds ${A.user} gives no password and there is no terminal to ask for it on: use --creds ${A.user}:PASSWORD\n`);
  });

  it('USERNAME alone on a terminal: asks for the password without echoing it', async () => {
    const r = await tsbuildOnTerminal(['--root', await dirs.make(), 'pull', '-q', '--creds', A.user, image], env, [{ prompt: `Password for ${A.user} (--creds): `, answer: A.password }]);
    expect(r.code).toBe(0);
    expect(r.output).toContain(digest);
    expect(r.output).not.toContain(A.password);
  });

  it('an empty user name is refused', async () => {
    expect(await refused(['tags', '--creds', ':x', `docker://${regA.host}/team/img`])).toContain('--creds needs a user name');
  });
});

describe('copy --src-creds / --dest-creds', () => {
  it('copies between registries that know different users', async () => {
    const dest = `${regB.host}/mirror/img:1`;
    const r = await ok(['--root', root, 'copy', '-q', '--src-creds', credsA, '--dest-creds', credsB, `docker://${image}`, `docker://${dest}`]);
    expect(r.stdout).toBe(`${digest}\n`);
    expect(await skopeoDigest(dest, credsB)).toBe(digest);
  });

  it('each side uses its own credentials, even on one registry', async () => {
    const dest = `docker://${regA.host}/team/copy:1`;
    const wrong = `${A.user}:wrong`;
    expect(await refused(['--root', root, 'copy', '--src-creds', credsA, '--dest-creds', wrong, `docker://${image}`, dest])).toMatch(/UNAUTHORIZED|HTTP 401/);
    expect(await refused(['--root', root, 'copy', '--src-creds', wrong, '--dest-creds', credsA, `docker://${image}`, dest])).toMatch(/UNAUTHORIZED|HTTP 401/);
    expect((await ok(['--root', root, 'copy', '-q', '--src-creds', credsA, '--dest-creds', credsA, `docker://${image}`, dest])).stdout).toBe(`${digest}\n`);
  });

  it('a side without a flag uses the stored credentials', async () => {
    const home = await dirs.make();
    const authFile = join(home, 'auth.json');
    await writeAuthFile(authFile, regA.host, A.user, A.password);
    const dest = `${regB.host}/mirror/stored:1`;
    await ok(['--root', root, 'copy', '-q', '--dest-creds', credsB, `docker://${image}`, `docker://${dest}`], { env: credentialEnv(home, { REGISTRY_AUTH_FILE: authFile }) });
    expect(await skopeoDigest(dest, credsB)).toBe(digest);
  });

  it('asks for each missing password in turn on a terminal', async () => {
    const dest = `${regB.host}/mirror/asked:1`;
    const r = await tsbuildOnTerminal(['--root', root, 'copy', '-q', '--src-creds', A.user, '--dest-creds', B.user, `docker://${image}`, `docker://${dest}`], env, [
      { prompt: `Password for ${A.user} (--src-creds): `, answer: A.password },
      { prompt: `Password for ${B.user} (--dest-creds): `, answer: B.password },
    ]);
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(A.password);
    expect(r.output).not.toContain(B.password);
    expect(await skopeoDigest(dest, credsB)).toBe(digest);
  });
});
