import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { FAILURE_EXIT_CODE, fsNative, MNT_DETACH, MS_RDONLY, ToolError } from '@tsbuild/oci-layout';

export interface OverlayMount {
  /** The merged view: the root filesystem a step runs in. */
  merged: string;
  /** Where the step's changes land: after unmounting, this directory is the new layer. */
  upper: string;
  unmount(): Promise<void>;
}

/**
 * An overlay that could not be mounted: `too-deep` when its lowers do not
 * fit in mount(2)'s page of options however named, `mount-failed` for what
 * the kernel refused. A failed operation (exit 1, as docker build's); a
 * container's start reports it as its own failure (125).
 */
export class OverlayMountError extends ToolError<'too-deep' | 'mount-failed'> {
  constructor(kind: 'too-deep' | 'mount-failed', message: string, options?: ErrorOptions) {
    super(kind, message, FAILURE_EXIT_CODE, options);
  }
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
  if (opts.volatile) {
    // The kernel leaves this marker after a volatile mount and refuses the next one while it is
    // there; a clean unmount (ours) kept the upper directory whole, so it may go (containers/storage does the same).
    await rm(join(work, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
  }
  await mountLayers(lowers.length > 0 ? lowers : [empty], merged, 0, { upper, work, volatile: opts.volatile ?? false });
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
  await mountLayers(lowers, merged, MS_RDONLY);
}

/**
 * Refuses, before any work, a stack that no overlay mount can hold: even
 * named relative to the directory they share, its lowers fill mount(2)'s
 * page beside the upper and work directories of `widestWorkDir` (the
 * longest place one is mounted with them), named relative to it as well.
 */
export function checkOverlayDepth(lowers: string[], widestWorkDir: string): void {
  if (lowers.length === 0) return;
  const upper = { upper: join(widestWorkDir, 'upper'), work: join(widestWorkDir, 'work'), volatile: true };
  if (Buffer.byteLength(overlayOptions(sharedDirectory(lowers), lowers, upper)) >= fsNative().pageSize) throw tooDeep(lowers.length);
}

function tooDeep(layers: number): OverlayMountError {
  return new OverlayMountError('too-deep', `cannot mount an overlay of ${layerCount(layers)}: their paths, even as short relative names, are longer than mount(2) takes (a page; about 150 layers fit)`);
}

function layerCount(n: number): string {
  return n === 1 ? '1 layer' : `${n} layers`;
}

/** Where a writable overlay keeps its changes (and overlay its scratch space), and whether it is `volatile`. */
interface UpperOptions {
  upper: string;
  work: string;
  volatile: boolean;
}

/**
 * Mounts overlay's `lowers` (bottom first) at `target`, with `upper` unless
 * read-only. mount(2) takes one page of options, and absolute snapshot paths
 * fill it at 35-45 layers; when they do not fit, every directory in the
 * options is named relative to the directory the lowers share and mounted
 * from there, as containers/storage mounts deep images from its directory of
 * short links. Snapshots share `<root>/cache/snapshots` under 24-character
 * names: 25 bytes a layer, so about 150 layers fit beside an upper and work
 * directory (docker stops at 127), with no links to keep.
 */
async function mountLayers(lowers: string[], target: string, flags: number, upper?: UpperOptions): Promise<void> {
  const native = fsNative();
  const fits = (options: string) => Buffer.byteLength(options) < native.pageSize;
  const base = fits(overlayOptions('', lowers, upper)) ? '' : sharedDirectory(lowers);
  const options = overlayOptions(base, lowers, upper);
  if (!fits(options)) throw tooDeep(lowers.length);
  await (base ? native.mountFrom(base, 'overlay', target, 'overlay', flags, options) : native.mount('overlay', target, 'overlay', flags, options)).catch(
    (e: NodeJS.ErrnoException) => {
      throw new OverlayMountError('mount-failed', `cannot mount an overlay of ${layerCount(lowers.length)} (are we root, with overlayfs?): ${e.message}`, { cause: e });
    },
  );
}

/** overlay's options for `lowers` (bottom first; overlay lists the top first) and `upper`, every path relative to `base` unless that is ''. */
function overlayOptions(base: string, lowers: string[], upper?: UpperOptions): string {
  const named = (path: string) => (base ? relative(base, path) : path);
  const lowerdir = `lowerdir=${lowers.map(named).reverse().join(':')}`;
  if (!upper) return lowerdir;
  // index=off and metacopy=off keep the upper directory a plain, self-contained diff we can tar.
  return `${lowerdir},upperdir=${named(upper.upper)},workdir=${named(upper.work)},index=off,metacopy=off,redirect_dir=off${upper.volatile ? ',volatile' : ''}`;
}

/** The deepest directory that holds every one of `paths` (absolute), so that each has a name relative to it. */
function sharedDirectory(paths: string[]): string {
  const parents = paths.map((p) => dirname(p).split(sep));
  const first = parents[0]!;
  let depth = 0;
  while (depth < first.length && parents.every((p) => p[depth] === first[depth])) depth++;
  return first.slice(0, depth).join(sep) || sep;
}

export async function unmount(dir: string): Promise<void> {
  await fsNative().unmount(dir, 0).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EBUSY') throw e;
    // A process that has not let go yet: detach now, the kernel finishes when it exits.
    await fsNative().unmount(dir, MNT_DETACH);
  });
}
