import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { applyLayer } from './applyLayer.js';
import type { Image } from './image.js';
import { withNoSpacePath } from './noSpaceLeft.js';
import { toRuntimeSpec } from './runtimeSpec.js';
import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';

export interface BundleOptions {
  /** Replaces the image's Entrypoint + Cmd in `process.args`. */
  args?: string[];
}

export interface Bundle {
  rootfs: string;
  configPath: string;
}

/** Creates `dir` or accepts it empty; true when we created it (and so may remove it). */
async function claimDirectory(dir: string): Promise<boolean> {
  try {
    await mkdir(dir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    throw new ToolError('bundle-directory', `cannot create a bundle in ${dir}: ${(e as Error).message}`, FAILURE_EXIT_CODE);
  }
  if (entries.length > 0) throw new ToolError('bundle-directory', `refusing to create a bundle in ${dir}: it exists and is not empty`, FAILURE_EXIT_CODE);
  return false;
}

/**
 * Applies the image's layers in order onto `rootfs`, as `umoci unpack` does:
 * its final filesystem, with nothing written outside `rootfs` (see applyLayer).
 */
export async function unpackImage(image: Image, rootfs: string): Promise<void> {
  for (const layer of image.layers) {
    const blob = await layer.open();
    try {
      await applyLayer(rootfs, blob);
    } finally {
      blob.destroy();
    }
  }
}

/**
 * Unpacks `image` into an OCI runtime bundle: `dir/rootfs` (layers applied in
 * order) and `dir/config.json` (image-spec conversion). `dir` must be absent
 * or empty; on failure everything this created is removed again.
 */
export async function createBundle(image: Image, dir: string, opts: BundleOptions = {}): Promise<Bundle> {
  const bundleDir = resolve(dir);
  const rootfs = join(bundleDir, 'rootfs');
  const configPath = join(bundleDir, 'config.json');
  const createdDir = await claimDirectory(bundleDir);
  try {
    // The rootfs can hold setuid-root binaries: like umoci, keep the bundle
    // closed to other users so they cannot reach them through it.
    await chmod(bundleDir, 0o700);
    await mkdir(rootfs);
    await chmod(rootfs, 0o755);
    await unpackImage(image, rootfs);
    const spec = await toRuntimeSpec(image.config, { rootfs, args: opts.args });
    await writeFile(configPath, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
    return { rootfs, configPath };
  } catch (e) {
    if (createdDir) {
      await rm(bundleDir, { recursive: true, force: true });
    } else {
      await rm(rootfs, { recursive: true, force: true });
      await rm(configPath, { force: true });
    }
    throw withNoSpacePath(e, bundleDir);
  }
}
