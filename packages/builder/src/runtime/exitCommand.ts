import { fileURLToPath } from 'node:url';

/** This package's CLI, which conmon runs when a container exits: a path that works with no tsbuild process running. */
const TSBUILD_BIN = fileURLToPath(new URL('../../bin/tsbuild.js', import.meta.url));

/** conmon's `--exit-command`: `tsbuild --root ROOT container cleanup ID`, as podman's `container cleanup`. */
export function cleanupCommand(root: string, id: string): string[] {
  return [process.execPath, TSBUILD_BIN, '--root', root, 'container', 'cleanup', id];
}
