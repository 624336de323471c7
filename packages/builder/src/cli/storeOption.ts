import { join } from 'node:path';
import type { Command } from 'commander';
import type { LocalStore } from '@tsbuild/oci-layout';

/** `--root` is accepted before and after the command name; both mean the same store. */
export function withRootOption(cmd: Command): Command {
  return cmd.option('--root <dir>', 'store root (default: $TSBUILD_ROOT or ${XDG_DATA_HOME:-~/.local/share}/tsbuild)');
}

/**
 * Opens the store and first releases what killed builds left held (mounts,
 * runc containers). That costs one readdir unless such records exist;
 * `system check` opens without it (`reap: false`), so that it can report them.
 */
export interface OpenStoreOptions {
  /** Release what killed builds held (default true). */
  reap?: boolean;
  /** Make the store when there is none (default true). */
  create?: boolean;
}

export async function openStoreAt(root: string, opts: OpenStoreOptions = {}): Promise<LocalStore> {
  // Loaded here, not up front: declaring `--root` (`run --help`, usage errors) needs none of oci-layout (#14).
  const { LocalStore, readdirIfExists } = await import('@tsbuild/oci-layout');
  const store = await LocalStore.open(root, { create: opts.create ?? true });
  if (opts.reap !== false && (await readdirIfExists(join(root, 'runs'))).length > 0) {
    const { reapDeadRuns } = await import('../runtime/runRecord.js');
    await reapDeadRuns(store);
  }
  return store;
}

export async function openStore(cmd: Command, opts: OpenStoreOptions = {}): Promise<LocalStore> {
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  const { storeRoot } = await import('@tsbuild/oci-layout');
  return openStoreAt(storeRoot(root), opts);
}
