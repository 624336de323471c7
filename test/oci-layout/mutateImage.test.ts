import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendHistory, appendLayer, assembleImage, copyImage, createLayer, digestOf, imageDescriptor, InconsistentImageError, layerMediaType,
  openOciDirDestination, OciLayout, withConfig, withConfigFile,
  type Image, type ImageConfig, type Layer,
} from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

let blobs: OciLayout;
beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo', umoci: 'umoci' });
  blobs = await OciLayout.open(await dirs.make(), { create: true });
});

/** A one-file layer stored in `blobs`, as the builder stores a COPY's. */
async function fileLayer(path: string, text: string): Promise<Layer> {
  const content = Buffer.from(text);
  const created = createLayer([{ kind: 'entry', entry: { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: content.length, read: () => content } }], { compression: 'gzip' });
  const { digest, size } = await blobs.putBlob(created.stream);
  return blobs.storedLayer({ mediaType: layerMediaType('gzip'), digest, size }, await created.diffId);
}

function scratch(): Image {
  return assembleImage({ created: '2024-01-01T00:00:00Z', architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, []);
}

/** What every Image value must keep true: digests of its bytes, bytes of its documents, one diff_id per layer. */
function expectConsistent(image: Image): void {
  expect(image.manifestDigest).toBe(digestOf(image.manifestBytes));
  expect(JSON.parse(image.manifestBytes.toString())).toEqual(image.manifest);
  expect(JSON.parse(image.configBytes.toString())).toEqual(image.config);
  expect(image.manifest.config).toEqual({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(image.configBytes), size: image.configBytes.length });
  expect(image.manifest.layers).toEqual(image.layers.map((l) => l.descriptor));
  expect(image.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
}

describe('mutating images', () => {
  it('appends a layer: manifest, config and their digests move together, and the image appended to is unchanged', async () => {
    const base = scratch();
    const layer = await fileLayer('hello.txt', 'hello');
    const next = appendLayer(base, layer, { created: '2024-01-02T00:00:00Z', created_by: 'COPY hello.txt /' });
    expectConsistent(base);
    expectConsistent(next);
    expect(next.layers).toEqual([layer]);
    expect(next.manifestDigest).not.toBe(base.manifestDigest);
    expect(base.layers).toEqual([]);
    expect(base.config.rootfs.diff_ids).toEqual([]);
    expect(base.config.history).toEqual([]);
  });

  it('keeps diff_ids and history in step: a step without a layer is an empty_layer entry', async () => {
    const [a, b] = [await fileLayer('a', 'a'), await fileLayer('b', 'b')];
    let image = appendLayer(scratch(), a, { created_by: 'COPY a /' });
    image = appendHistory(image, { created_by: 'ENV X=1' });
    image = appendLayer(image, b, { created_by: 'COPY b /' });
    expectConsistent(image);
    expect(image.config.history).toEqual([{ created_by: 'COPY a /' }, { created_by: 'ENV X=1', empty_layer: true }, { created_by: 'COPY b /' }]);
    expect(image.config.history!.filter((h) => !h.empty_layer)).toHaveLength(image.layers.length);
    expect(image.config.rootfs.diff_ids).toEqual([a.diffId, b.diffId]);
  });

  it('appends several entries at once exactly as one at a time', async () => {
    const base = appendLayer(scratch(), await fileLayer('a', 'a'), { created_by: 'COPY a /' });
    const entries = [{ created_by: 'ENV X=1' }, { created_by: 'LABEL l=1', created: '2024-01-02T00:00:00Z' }, { created_by: 'CMD ["x"]' }];
    const oneByOne = entries.reduce((image, entry) => appendHistory(image, entry), base);
    const together = appendHistory(base, ...entries);
    expect(together.configBytes.equals(oneByOne.configBytes)).toBe(true);
    expect(together.manifestDigest).toBe(oneByOne.manifestDigest);
    expect(appendHistory(base).manifestDigest).toBe(base.manifestDigest);
  });

  it('refuses an image whose config and layers disagree, and a layer recorded as empty', async () => {
    const layer = await fileLayer('x', 'x');
    expect(() => appendLayer(scratch(), layer, { created_by: 'RUN true', empty_layer: true })).toThrow(InconsistentImageError);
    const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    expect(() => assembleImage(config, [layer])).toThrow(InconsistentImageError);
    expect(() => withConfigFile(appendLayer(scratch(), layer, {}), config)).toThrow(InconsistentImageError);
  });

  it('sets config fields in place (a new one last) without touching layers, and the same changes give the same digest', async () => {
    const layer = await fileLayer('y', 'y');
    const change = (image: Image) => withConfig(appendLayer(image, layer, { created_by: 'COPY y /' }), { config: { Cmd: ['/y'] }, author: 'me', created: '2024-03-03T00:00:00Z' });
    const image = change(scratch());
    expectConsistent(image);
    expect(Object.keys(image.config)).toEqual(['created', 'architecture', 'os', 'config', 'rootfs', 'history', 'author']);
    expect(image.config).toMatchObject({ created: '2024-03-03T00:00:00Z', author: 'me', config: { Cmd: ['/y'] } });
    expect(image.layers).toEqual([layer]);
    expect(change(scratch()).manifestDigest).toBe(image.manifestDigest);
    expect(imageDescriptor(image)).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: image.manifestBytes.length, platform: { architecture: 'amd64', os: 'linux' },
    });
  });

  it('writes the result through the copy loop into an OCI layout that skopeo and umoci read', async () => {
    let image = appendLayer(scratch(), await fileLayer('etc/greeting', 'hi there\n'), { created: '2024-01-02T00:00:00Z', created_by: 'COPY greeting /etc/' });
    image = appendHistory(image, { created: '2024-01-02T00:00:00Z', created_by: 'CMD ["cat"]' });
    image = appendLayer(image, await fileLayer('etc/second', 'two\n'), { created: '2024-01-03T00:00:00Z', created_by: 'COPY second /etc/' });
    image = withConfig(image, { config: { Cmd: ['cat', '/etc/greeting'] } });
    const dir = await dirs.make();
    const descriptor = await copyImage(image, await openOciDirDestination(dir, ['v1']));
    expect(descriptor.digest).toBe(image.manifestDigest);

    const inspected = JSON.parse((await run('skopeo', ['inspect', `oci:${dir}:v1`])).stdout) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(image.manifestDigest);
    expect(inspected.Layers).toEqual(image.layers.map((l) => l.descriptor.digest));
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${dir}:v1`])).stdout) as ImageConfig;
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    expect(config.history!.map((h) => h.empty_layer ?? false)).toEqual([false, true, false]);
    expect(config.config?.Cmd).toEqual(['cat', '/etc/greeting']);

    const bundle = join(await dirs.make(), 'bundle');
    await run('umoci', ['unpack', '--image', `${dir}:v1`, bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'etc', 'greeting'), 'utf8')).toBe('hi there\n');
    expect(await readFile(join(bundle, 'rootfs', 'etc', 'second'), 'utf8')).toBe('two\n');
  });
});
