/** A command's exit status that is not a failure of tsbuild (a container's own code): main returns it, silently. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
