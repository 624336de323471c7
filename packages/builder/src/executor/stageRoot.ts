import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Image, LocalStore } from '@tsbuild/oci-layout';
import { mountReadOnlyOverlay, unmount } from '../runtime/overlayMount.js';
import { holdRun } from '../runtime/runRecord.js';
import type { Snapshotter } from '../runtime/snapshotter.js';

export interface StageRoot {
  /** A read-only view of the image's whole filesystem. */
  dir: string;
  release(): Promise<void>;
}

/**
 * The flattened filesystem of a built stage or another image, for
 * `COPY --from`: its snapshots stacked as a read-only overlay (no upper
 * directory, so nothing can change them). One layer needs no overlay.
 */
export async function openStageRoot(store: LocalStore, snapshotter: Snapshotter, image: Image): Promise<StageRoot> {
  const dirs = await snapshotter.prepare(image.layers);
  const work = await mkdtemp(join(store.tmpDir, 'from-'));
  const release = () => rm(work, { recursive: true, force: true });
  if (dirs.length <= 1) {
    if (dirs.length === 1) return { dir: dirs[0]!, release };
    const empty = join(work, 'empty');
    await mkdir(empty);
    return { dir: empty, release };
  }
  const merged = join(work, 'merged');
  const held = await holdRun(store, { workDir: work, mounts: [merged] });
  try {
    await mkdir(merged);
    await mountReadOnlyOverlay(dirs, merged);
  } catch (e) {
    await release();
    await held.release();
    throw e;
  }
  return {
    dir: merged,
    async release() {
      await unmount(merged);
      await release();
      await held.release();
    },
  };
}
