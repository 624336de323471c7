import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { applyLayer, type Digest, type Layer, type LocalStore } from '@tsbuild/oci-layout';
import { mountOverlay } from './overlayMount.js';

/** The chain IDs of a layer stack (image-spec): each names a layer together with everything below it. */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = out.at(-1);
    out.push(previous ? (`sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}` as Digest) : diffId);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Unpacked layers for overlay mounts, one directory per chain ID under
 * `<store>/cache/snapshots`, each holding just that layer's changes in
 * overlay's own format (whiteouts as 0/0 devices, opaque directories by
 * xattr). A directory is made once and shared by every build whose image
 * has the same layers below; it appears atomically (built aside, renamed).
 */
export class Snapshotter {
  readonly dir: string;
  private readonly tmpDir: string;

  constructor(store: LocalStore) {
    this.dir = join(store.cacheDir, 'snapshots');
    this.tmpDir = store.tmpDir;
  }

  pathOf(chainId: Digest): string {
    // Short names keep overlay's mount options (one page at most) within bounds for deep images.
    return join(this.dir, chainId.slice('sha256:'.length, 'sha256:'.length + 24));
  }

  /** Snapshot directories for `layers` (bottom first), unpacking the ones that are missing. */
  async prepare(layers: Pick<Layer, 'diffId' | 'open'>[]): Promise<string[]> {
    await mkdir(this.dir, { recursive: true });
    const chains = chainIds(layers.map((l) => l.diffId));
    const dirs: string[] = [];
    for (const [i, layer] of layers.entries()) {
      const target = this.pathOf(chains[i]!);
      if (!(await exists(target))) await this.unpack(layer, dirs, target);
      dirs.push(target);
    }
    return dirs;
  }

  /**
   * A layer is applied through an overlay of the layers below it, so that
   * whiteouts, opaque directories and hard links to lower files come out in
   * overlay's format in the upper directory.
   */
  private async unpack(layer: Pick<Layer, 'open'>, lowers: string[], target: string): Promise<void> {
    const work = await mkdtemp(join(this.tmpDir, 'unpack-'));
    try {
      if (lowers.length === 0) {
        const upper = join(work, 'upper');
        await mkdir(upper);
        await applyLayer(upper, await layer.open());
        await this.commit(upper, target);
        return;
      }
      const mount = await mountOverlay(lowers, work);
      try {
        await applyLayer(mount.merged, await layer.open());
      } finally {
        await mount.unmount();
      }
      await this.commit(mount.upper, target);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Moves a finished upper directory into place; if another build got there first, ours is dropped. */
  async commit(upper: string, target: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await rename(upper, target).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  }
}
