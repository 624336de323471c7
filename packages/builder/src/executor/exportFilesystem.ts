import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createLayer, unpackImage, writeNewFile, type Descriptor, type LocalStore } from '@tsbuild/oci-layout';
import { upperToChanges } from '../layers/upperToChanges.js';

/**
 * `--output type=local,dest=DIR`: the image's final filesystem unpacked into
 * DIR (made when missing) by the layer applier, so no entry lands outside DIR
 * whatever links the image holds. A DIR this made is removed again on failure.
 */
export async function exportFilesystem(store: LocalStore, image: Descriptor, dir: string): Promise<void> {
  const made = await mkdir(dir, { recursive: true });
  try {
    await unpackImage(await store.layout.readImage(image), dir);
  } catch (e) {
    if (made) await rm(made, { recursive: true, force: true });
    throw e;
  }
}

/**
 * `--output type=tar,dest=FILE|-`: the final filesystem as one plain tar, as
 * the layer writer writes layers. It is unpacked into a scratch directory
 * first (the layers' whiteouts and replacements resolved by the applier,
 * which escapes overlay xattrs, so the walk sees a plain tree; only a 0/0
 * character device, overlay's whiteout, would read back as one), then read
 * back as one layer. A file appears whole or not at all.
 */
export async function exportFilesystemTar(store: LocalStore, image: Descriptor, dest: string | NodeJS.WritableStream): Promise<void> {
  const scratch = await mkdtemp(join(store.tmpDir, 'export-'));
  try {
    const rootfs = join(scratch, 'rootfs');
    await mkdir(rootfs);
    await unpackImage(await store.layout.readImage(image), rootfs);
    const { stream } = createLayer(await upperToChanges(rootfs), { compression: 'none' });
    if (typeof dest !== 'string') {
      await pipeline(stream, dest, { end: false });
      return;
    }
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeNewFile(tmp, stream);
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
