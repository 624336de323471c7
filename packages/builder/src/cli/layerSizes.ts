import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decompressStream, type Layer, type LocalStore } from '@tsbuild/oci-layout';

/**
 * Uncompressed (tar) sizes of layers, which manifests do not carry: counted once by
 * decompressing the blob, then remembered under `<root>/cache/layer-sizes/` by diff_id
 * (content-addressed, so an entry never goes stale and gzip/zstd twins share it).
 */
export class LayerSizes {
  constructor(private readonly store: LocalStore) {}

  private get dir(): string {
    return join(this.store.cacheDir, 'layer-sizes');
  }

  async of(layer: Layer): Promise<number> {
    const file = join(this.dir, layer.diffId.replace(':', '-'));
    const known = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (known !== undefined && /^\d+$/.test(known)) return Number(known);
    let size = 0;
    for await (const chunk of decompressStream(await layer.open())) size += (chunk as Buffer).length;
    await mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, String(size));
    await rename(tmp, file);
    return size;
  }
}
