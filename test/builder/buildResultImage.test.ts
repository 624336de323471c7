import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '@tsbuild/builder';
import { copyImage, LocalStore, openOciDirDestination } from '@tsbuild/oci-layout';
import { writeContext } from '../helpers/buildCase.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';

const dirs = tempDirs();
let store: LocalStore;

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  store = await LocalStore.open(await dirs.make('tsbuild-result-'));
});
afterAll(() => dirs.cleanup());

describe('a build result', () => {
  it('is the stored image as an Image value, which the copy loop writes to an OCI layout with the same digest', async () => {
    const context = await dirs.make();
    await writeContext(context, {
      'a.txt': 'a',
      'b.txt': 'b',
      Dockerfile: ['FROM scratch AS parts', 'COPY a.txt /a', 'COPY b.txt /b', 'FROM scratch', 'ENV X=1', 'COPY --from=parts /a /b /out/', 'CMD ["/out/a"]', ''].join('\n'),
    });
    const result = await buildImage(store, { contextDir: context, tags: ['result'], buildArgs: {}, labels: {}, compression: 'gzip', log: () => undefined, sourceDateEpoch: 1_700_000_000 });
    expect(result.image.manifestDigest).toBe(result.digest);
    const stored = await store.readImage('result');
    expect(result.image.manifestBytes).toEqual(stored.manifestBytes);
    expect(result.image.configBytes).toEqual(stored.configBytes);
    expect(result.image.layers.map((l) => [l.descriptor, l.diffId])).toEqual(stored.layers.map((l) => [l.descriptor, l.diffId]));

    const dir = join(await dirs.make(), 'layout');
    await copyImage(result.image, await openOciDirDestination(dir, ['built']));
    const inspected = JSON.parse((await run('skopeo', ['inspect', `oci:${dir}:built`])).stdout) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(result.digest);
    expect(inspected.Layers).toHaveLength(1);
  });
});
