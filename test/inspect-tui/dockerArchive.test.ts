import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { pack as tarPack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { openDockerArchive, readLayer } from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';

const LAYER_1 = '1871059774abe6914075e4a919b778fa1561f577d620ae52438a9635e6241936/layer.tar';
const dirs = tempDirs();
afterAll(() => dirs.cleanup());

describe('openDockerArchive', () => {
  it('reads manifest.json and the config, and serves each layer as its bytes in the archive', async () => {
    const image = await openDockerArchive(DIVE_IMAGE);
    expect(image.repoTags).toEqual(['dive-test:latest']);
    expect(image.layers).toHaveLength(14);
    expect(image.layerPaths[1]).toBe(LAYER_1);
    const layer = image.layers[1]!;
    expect(layer.descriptor).toEqual({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: layer.diffId, size: 8192 });
    const { stdout } = await promisify(execFile)('tar', ['xOf', DIVE_IMAGE, LAYER_1], { encoding: 'buffer', maxBuffer: 1 << 24 });
    const bytes = await buffer(await layer.open());
    expect(bytes.equals(stdout)).toBe(true);
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(layer.diffId);
    const changes = [];
    for await (const c of readLayer(await layer.open())) {
      changes.push(c.kind === 'entry' ? c.entry.path : c.kind);
      if (c.kind === 'entry') c.entry.content?.resume();
    }
    expect(changes).toEqual(['somefile.txt']);
    expect(image.manifest.layers.map((d) => d.digest)).toEqual(image.config.rootfs.diff_ids);
  });

  it('picks an image by tag and says which tags there are when the tag is wrong', async () => {
    expect((await openDockerArchive(DIVE_IMAGE, 'dive-test')).layers).toHaveLength(14);
    await expect(openDockerArchive(DIVE_IMAGE, 'other:1')).rejects.toThrow(/no image tagged other:1 \(tags: dive-test:latest\)/);
  });

  it('follows a layer member that links to another (how docker save stores a repeated layer)', async () => {
    const layerTar = await tarBytes([{ name: 'hello', body: Buffer.from('hi\n') }]);
    const diffId = `sha256:${createHash('sha256').update(layerTar).digest('hex')}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId, diffId] } }));
    const manifest = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['a/layer.tar', 'b/layer.tar'] }]));
    const archive = await tarBytes([
      { name: 'a/layer.tar', body: layerTar },
      { name: 'b/layer.tar', linkname: '../a/layer.tar' },
      { name: 'c.json', body: config },
      { name: 'manifest.json', body: manifest },
    ]);
    const file = join(await dirs.make(), 'linked.tar');
    await writeFile(file, archive);
    const image = await openDockerArchive(file);
    expect((await buffer(await image.layers[1]!.open())).equals(layerTar)).toBe(true);
  });

  it('fails a layer whose bytes do not match its diff_id while they are read', async () => {
    const layerTar = await tarBytes([{ name: 'hello', body: Buffer.from('hi\n') }]);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [wrong] } }));
    const manifest = Buffer.from(JSON.stringify([{ Config: 'c.json', Layers: ['a/layer.tar'] }]));
    const file = join(await dirs.make(), 'mismatch.tar');
    await writeFile(file, await tarBytes([{ name: 'a/layer.tar', body: layerTar }, { name: 'c.json', body: config }, { name: 'manifest.json', body: manifest }]));
    const image = await openDockerArchive(file);
    await expect(buffer(await image.layers[0]!.open())).rejects.toThrow(/digest mismatch/);
  });

  it('rejects an archive without manifest.json', async () => {
    const file = join(await dirs.make(), 'no-manifest.tar');
    await writeFile(file, await tarBytes([{ name: 'x', body: Buffer.from('x') }]));
    await expect(openDockerArchive(file)).rejects.toThrow(/not a docker save archive: it has no manifest.json/);
  });
});

async function tarBytes(members: { name: string; body?: Buffer; linkname?: string }[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const m of members) {
    const header = m.linkname
      ? { name: m.name, type: 'symlink' as const, linkname: m.linkname }
      : { name: m.name, type: 'file' as const, size: m.body!.length, mode: 0o644 };
    await new Promise<void>((resolve, reject) => pack.entry(header, m.body ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}
