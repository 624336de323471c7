import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRandomImage } from '../helpers/randomImage.js';
import { ownAddress, startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let root: string;
let digest: string;

beforeAll(async () => {
  registry = await startRegistry({ kind: 'none' }, { address: ownAddress() });
  root = await dirs.make();
  digest = await buildRandomImage(root, 'plain', await dirs.make(), 300);
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('registries that speak plain HTTP away from loopback', () => {
  it('are refused by default, naming the HTTPS URL that failed', async () => {
    const r = await tsbuild(['--root', root, 'push', 'plain', `docker://${registry.host}/plain/img:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`https://${registry.host}/v2/`);
  });

  it('work with --tls-verify=false', async () => {
    expect((await ok(['--root', root, 'push', '-q', '--tls-verify=false', 'plain', `docker://${registry.host}/plain/img:1`])).stdout).toBe(`${digest}\n`);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/plain/img:1`]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(digest);
  });

  it('work when registries.conf marks them insecure', async () => {
    const conf = join(await dirs.make(), 'registries.conf');
    await writeFile(conf, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
    expect((await ok(['--root', await dirs.make(), 'pull', '-q', '--registries-conf', conf, `${registry.host}/plain/img:1`])).stdout).toBe(`${digest}\n`);
  });
});
