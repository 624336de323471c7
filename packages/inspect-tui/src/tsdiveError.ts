import { ToolError } from '@tsbuild/oci-layout';
import { EXIT_ERROR } from './tsdiveExitCodes.js';

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
