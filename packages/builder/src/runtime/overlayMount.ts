import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsNative, MNT_DETACH, MS_RDONLY } from '@tsbuild/oci-layout';

export interface OverlayMount {
  /** The merged view: the root filesystem a step runs in. */
  merged: string;
  /** Where the step's changes land: after unmounting, this directory is the new layer. */
  upper: string;
  unmount(): Promise<void>;
}

export interface OverlayOptions {
  /**
   * overlay's `volatile`: no syncfs of the upper file system, which on unmount
   * otherwise flushes every dirty page of the whole file system holding it
   * (seconds on a busy disk). For what does not survive a crash anyway: a
   * `--rm` container, as podman mounts those.
   */
  volatile?: boolean;
}

/**
 * Mounts an overlay of read-only snapshot directories (`lowers`, bottom
 * first) with a fresh upper directory under `workDir`. Overlay needs at
 * least one lower directory, so an image with no layers gets an empty one.
 */
export async function mountOverlay(lowers: string[], workDir: string, opts: OverlayOptions = {}): Promise<OverlayMount> {
  const upper = join(workDir, 'upper');
  const work = join(workDir, 'work');
  const merged = join(workDir, 'merged');
  const empty = join(workDir, 'empty');
  await Promise.all([upper, work, merged, empty].map((d) => mkdir(d, { recursive: true })));
  const lowerdir = (lowers.length > 0 ? [...lowers].reverse() : [empty]).join(':');
  // index=off and metacopy=off keep the upper directory a plain, self-contained diff we can tar.
  let options = `lowerdir=${lowerdir},upperdir=${upper},workdir=${work},index=off,metacopy=off,redirect_dir=off`;
  if (opts.volatile) {
    // The kernel leaves this marker after a volatile mount and refuses the next one while it is
    // there; a clean unmount (ours) kept the upper directory whole, so it may go (containers/storage does the same).
    await rm(join(work, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
    options += ',volatile';
  }
  await fsNative().mount('overlay', merged, 'overlay', 0, options).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'E2BIG') throw new Error(`cannot mount the build's overlay filesystem: the paths of its ${lowers.length} layers are longer than mount(2) takes (a page)`);
    throw new Error(`cannot mount the build's overlay filesystem (are we root, with overlayfs?): ${e.message}`);
  });
  let mounted = true;
  return {
    merged,
    upper,
    async unmount() {
      if (!mounted) return;
      await unmount(merged);
      mounted = false;
    },
  };
}

/** Stacks `lowers` (bottom first) read-only at `merged`: no upper directory, so nothing can change them. */
export async function mountReadOnlyOverlay(lowers: string[], merged: string): Promise<void> {
  await fsNative().mount('overlay', merged, 'overlay', MS_RDONLY, `lowerdir=${[...lowers].reverse().join(':')}`);
}

export async function unmount(dir: string): Promise<void> {
  await fsNative().unmount(dir, 0).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EBUSY') throw e;
    // A process that has not let go yet: detach now, the kernel finishes when it exits.
    await fsNative().unmount(dir, MNT_DETACH);
  });
}
