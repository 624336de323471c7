import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIVE_IMAGE } from '../helpers/fixtures.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tsdive } from '../helpers/tsdiveCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;

async function diveJson(args: string[]): Promise<{ code: number; json?: { image: { sizeBytes: number; inefficientBytes: number; efficiencyScore: number } }; stderr: string }> {
  const { code, stdout, stderr } = await tsdive(['--json', '-', ...args]);
  return { code, stderr, ...(code === 0 ? { json: JSON.parse(stdout) } : {}) };
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  registry = await startRegistry();
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('tsdive sources beyond files and the store', () => {
  it('oci-archive: and docker:// give dive\'s figures for its own test image', async () => {
    const archive = join(await dirs.make(), 'dive.oci.tar');
    await run('skopeo', ['copy', `docker-archive:${DIVE_IMAGE}`, `oci-archive:${archive}:dive`]);
    const fromArchive = await diveJson([`oci-archive:${archive}`]);
    expect(fromArchive.stderr).toBe('');
    expect(fromArchive.json?.image).toMatchObject({ sizeBytes: 1220598, inefficientBytes: 32025, efficiencyScore: 0.9844212134184309 });

    const pushed = await tsbuild(['copy', `docker-archive:${DIVE_IMAGE}`, `docker://${registry.host}/dive/test:1`]);
    expect(pushed.code).toBe(0);
    const root = await dirs.make();
    const fromRegistry = await diveJson(['--root', root, `docker://${registry.host}/dive/test:1`]);
    expect(fromRegistry.json?.image).toMatchObject({ sizeBytes: 1220598, inefficientBytes: 32025, efficiencyScore: 0.9844212134184309 });
  });

  it('oci:DIR:REF splits at the first colon, so a REF with colons names its image (skopeo\'s rule)', async () => {
    const layout = join(await dirs.make(), 'layout');
    await run('skopeo', ['copy', `docker-archive:${DIVE_IMAGE}`, `oci:${layout}:localhost/dive:1`]);
    await run('skopeo', ['copy', `docker-archive:${DIVE_IMAGE}`, `oci:${layout}:other`]);
    const r = await diveJson([`oci:${layout}:localhost/dive:1`]);
    expect(r.stderr).toBe('');
    expect(r.json?.image).toMatchObject({ sizeBytes: 1220598, inefficientBytes: 32025 });
    const unnamed = await diveJson([`oci:${layout}`]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toMatch(/holds 2 images; name one as oci:.*:REF \(localhost\/dive:1, other\)/);
  });

  it('a docker:// image that does not exist is one clear line and exit 2', async () => {
    const r = await diveJson(['--root', await dirs.make(), `docker://${registry.host}/no/such:1`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/cannot pull .*no\/such:1/);
  });
});
