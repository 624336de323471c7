/** Docker's and skopeo's exit code for an operation that failed. */
export const FAILURE_EXIT_CODE = 1;
/** Docker's exit code when the tool itself fails (bad input it refuses), as opposed to a failed operation. */
export const TOOL_FAILURE_EXIT_CODE = 125;

/**
 * An error a caller can act on: a `kind` to tell it apart by (catch the one
 * you mean, let the rest surface) and the exit code a command line ends with
 * when it reaches the top, as go-containerregistry's transport.Error carries
 * the status and diagnostics. Each package's typed errors extend it; the CLIs
 * read `exitCode` from it, and any other error exits 1.
 */
export class ToolError<Kind extends string = string> extends Error {
  constructor(
    readonly kind: Kind,
    message: string,
    readonly exitCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
