import type { Command } from 'commander';
import { LocalStore, storeRoot } from '@tsbuild/oci-layout';

/** `--root` is accepted before and after the command name; both mean the same store. */
export function withRootOption(cmd: Command): Command {
  return cmd.option('--root <dir>', 'store root (default: $TSBUILD_ROOT or ${XDG_DATA_HOME:-~/.local/share}/tsbuild)');
}

export function openStore(cmd: Command): Promise<LocalStore> {
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  return LocalStore.open(storeRoot(root));
}
