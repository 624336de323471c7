/** The exit code when the CLI itself refuses the command line (an unknown option or command, a bad value), as podman's and docker's. */
export const USAGE_EXIT_CODE = 125;

/** A command's exit status that is not a failure of tsbuild (a container's own code): main returns it, silently. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
