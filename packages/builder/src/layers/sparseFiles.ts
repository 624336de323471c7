import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fsNative, type SparseRegion } from '@tsbuild/oci-layout';

const NO_FOLLOW_READ = constants.O_RDONLY | constants.O_NOFOLLOW;

/**
 * The data regions of a file with holes (e.g. `truncate -s 2G` in a RUN
 * step), so its layer entry carries only its data; undefined for a file
 * without holes. Only files with fewer blocks than their size are asked.
 */
export async function sparseRegionsOf(path: string | Buffer, st: Stats): Promise<SparseRegion[] | undefined> {
  if (st.blocks * 512 >= st.size) return undefined;
  const handle = await open(path, NO_FOLLOW_READ);
  try {
    const regions = fsNative()
      .dataRegions(handle.fd)
      .map(([offset, length]) => ({ offset, length: Math.min(length, st.size - offset) }))
      .filter((region) => region.length > 0);
    const dense = regions.length === 1 && regions[0]!.offset === 0 && regions[0]!.length === st.size;
    return dense ? undefined : regions;
  } finally {
    await handle.close();
  }
}

/** A sparse file's content as a layer entry carries it: its regions' bytes, one after another. */
export function readRegions(path: string | Buffer, regions: SparseRegion[]): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const handle = await open(path, NO_FOLLOW_READ);
    try {
      for (const region of regions) {
        if (region.length === 0) continue;
        yield* handle.createReadStream({ start: region.offset, end: region.offset + region.length - 1, autoClose: false });
      }
    } finally {
      await handle.close();
    }
  }
  return Readable.from(chunks());
}
