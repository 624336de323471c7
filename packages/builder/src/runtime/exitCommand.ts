import { createRequire } from 'node:module';

/**
 * This package's CLI, which conmon runs when a container exits: a path that works with no tsbuild
 * process running. Named through the package, not relative to this module, which the bundle
 * (scripts/bundleCli.mjs) moves into one of its chunks.
 */
function tsbuildBin(): string {
  return createRequire(import.meta.url).resolve('@tsbuild/builder/bin/tsbuild.js');
}

/**
 * Exits at once while the process whose PID the file `$1` holds lives; else runs the rest of its
 * arguments. Only shell built-ins (the file has no newline, so `read` fails yet sets pid): this runs
 * for every exit, at the moment the foreground `run` cleans up.
 */
const UNLESS_ATTACHED = 'pid=; { read -r pid < "$1"; } 2>/dev/null; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && exit 0; shift; exec "$@"';

/**
 * conmon's `--exit-command`: `tsbuild --root ROOT container cleanup ID`, as
 * podman's `container cleanup`. Given `attachedFile` (for a container with no
 * restart policy), a shell first looks whether the foreground `run` it names
 * still lives: that run cleans up after its container itself, and a node
 * process started for nothing would only compete with it for the CPU.
 */
export function cleanupCommand(root: string, id: string, attachedFile?: string): string[] {
  const cleanup = [process.execPath, tsbuildBin(), '--root', root, 'container', 'cleanup', id];
  return attachedFile === undefined ? cleanup : ['/bin/sh', '-c', UNLESS_ATTACHED, 'sh', attachedFile, ...cleanup];
}
