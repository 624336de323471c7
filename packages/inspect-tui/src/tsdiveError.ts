import { ToolError } from '@tsbuild/oci-layout';

/**
 * tsdive's exit codes: 0 success and every CI rule passes, 1 a CI rule failed (as dive),
 * 2 anything else (usage, config, an image it cannot read), so that a CI job can tell a
 * wasteful image from a broken run.
 */
export const EXIT_OK = 0;
export const EXIT_RULE_FAILED = 1;
export const EXIT_ERROR = 2;

export type TsdiveErrorKind =
  /** A CI rules file, or a rule's value, that tsdive cannot use. */
  | 'ci-config'
  /** The IMAGE argument or --source names no image tsdive can read. */
  | 'image-source'
  /** The image has no layers: nothing to explore. */
  | 'no-layers'
  /** A layer of the image could not be read (`cause` says why). */
  | 'unreadable-layer'
  /** The explorer's ctrl+e or v on a path that is no regular file in its layer. */
  | 'not-a-regular-file'
  /** `tsdive build`: tsbuild build failed. */
  | 'build-failed'
  /** The explorer was asked for without a terminal to draw on. */
  | 'needs-terminal';

/** What stops a tsdive command; it exits with EXIT_ERROR. */
export class TsdiveError extends ToolError<TsdiveErrorKind> {
  constructor(kind: TsdiveErrorKind, message: string, options?: ErrorOptions) {
    super(kind, message, EXIT_ERROR, options);
  }
}
