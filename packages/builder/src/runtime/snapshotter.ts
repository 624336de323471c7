import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { statIfExists, type Digest, type Layer, type LocalStore } from '@tsbuild/oci-layout';
import { widestContainerRootfs } from './containerStore.js';
import { checkOverlayDepth, mountOverlay } from './overlayMount.js';
import { holdRun, type HeldRun } from './runRecord.js';
import { listingDigest, recordPathIn, writeSnapshotRecord } from './snapshotRecord.js';

/** The chain IDs of a layer stack (image-spec): each names a layer together with everything below it. */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = out.at(-1);
    out.push(previous ? (`sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}` as Digest) : diffId);
  }
  return out;
}

/**
 * Unpacked layers for overlay mounts, one directory per chain ID under
 * `<store>/cache/snapshots`, each holding just that layer's changes in
 * overlay's own format (whiteouts as 0/0 devices, opaque directories by
 * xattr). A directory is made once and shared by every build whose image
 * has the same layers below; it appears atomically (built aside, renamed),
 * and a record of what it holds is written beside it first
 * (`<store>/cache/snapshot-records`), for `system check`.
 */
export class Snapshotter {
  readonly dir: string;
  readonly recordsDir: string;
  private readonly tmpDir: string;

  constructor(private readonly store: LocalStore) {
    this.dir = join(store.cacheDir, 'snapshots');
    this.recordsDir = join(store.cacheDir, 'snapshot-records');
    this.tmpDir = store.tmpDir;
  }

  /** Where the record of the snapshot at `path` is kept. */
  recordOf(path: string): string {
    return recordPathIn(this.recordsDir, basename(path));
  }

  pathOf(chainId: Digest): string {
    // Short names: a deep image's overlay names its lowers relative to `dir` (overlayMount), 25 bytes a layer in mount(2)'s one page.
    return join(this.dir, chainId.slice('sha256:'.length, 'sha256:'.length + 24));
  }

  /**
   * Snapshot directories for `layers` (bottom first), unpacking the ones that
   * are missing. A stack too deep for one overlay is refused before any is.
   */
  async prepare(layers: Pick<Layer, 'diffId' | 'open'>[]): Promise<string[]> {
    const chains = chainIds(layers.map((l) => l.diffId));
    const targets = chains.map((c) => this.pathOf(c));
    checkOverlayDepth(targets, widestContainerRootfs(this.store.root));
    // Which are there, asked of every layer at once: a container's start waits on these one after another otherwise.
    // Only a missing snapshot is unpacked; a permission or I/O error is no answer to "is it there".
    const [, present] = await Promise.all([mkdir(this.dir, { recursive: true }), Promise.all(targets.map((t) => statIfExists(t)))]);
    const dirs: string[] = [];
    for (const [i, layer] of layers.entries()) {
      if (!present[i]) await this.unpack(layer, dirs, chains[i]!);
      dirs.push(targets[i]!);
    }
    return dirs;
  }

  /**
   * A layer is applied through an overlay of the layers below it, so that
   * whiteouts, opaque directories and hard links to lower files come out in
   * overlay's format in the upper directory.
   */
  private async unpack(layer: Pick<Layer, 'open'>, lowers: string[], chainId: Digest): Promise<void> {
    // Loaded here, not up front: a container whose layers are unpacked already (every `run` after the first) needs no tar reader (#13).
    const { applyLayer } = await import('@tsbuild/oci-layout');
    const work = await mkdtemp(join(this.tmpDir, 'unpack-'));
    let held: HeldRun | undefined;
    try {
      if (lowers.length === 0) {
        const upper = join(work, 'upper');
        await mkdir(upper);
        await applyLayer(upper, await layer.open());
        await this.commit(upper, chainId);
        return;
      }
      held = await holdRun(this.store, { workDir: work, mounts: [join(work, 'merged')] });
      const mount = await mountOverlay(lowers, work);
      try {
        await applyLayer(mount.merged, await layer.open(), { throughOverlayMount: true });
      } finally {
        await mount.unmount();
      }
      await this.commit(mount.upper, chainId);
    } finally {
      await rm(work, { recursive: true, force: true });
      await held?.release();
    }
  }

  /**
   * Records what a finished upper directory holds, then moves it into place
   * as the snapshot of `chainId`; if another build got there first, ours is
   * dropped (its record says the same).
   */
  async commit(upper: string, chainId: Digest): Promise<void> {
    const target = this.pathOf(chainId);
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.recordsDir, { recursive: true });
    await writeSnapshotRecord(this.recordOf(target), { chainId, ...(await listingDigest(upper)) });
    await rename(upper, target).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  }
}
