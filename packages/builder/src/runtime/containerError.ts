import { ToolError } from '@tsbuild/oci-layout';

/** What went wrong, so the CLI can pick docker's exit code and a person can act on the one-line message. */
export type ContainerErrorKind =
  | 'not-found'
  /** An ID prefix that starts more than one container's ID: never taken as not-found (then as an image). */
  | 'ambiguous'
  | 'name-in-use'
  | 'invalid-option'
  | 'bad-state'
  | 'runtime'
  | 'cannot-invoke'
  | 'command-not-found'
  /** `port CTR PORT` for a port that is not published: docker's plain failure, exit 1. */
  | 'not-published';

const EXIT_CODES: Record<ContainerErrorKind, number> = {
  'not-found': 125,
  ambiguous: 125,
  'name-in-use': 125,
  'invalid-option': 125,
  'bad-state': 125,
  runtime: 125,
  'cannot-invoke': 126,
  'command-not-found': 127,
  'not-published': 1,
};

export class ContainerError extends ToolError<ContainerErrorKind> {
  constructor(kind: ContainerErrorKind, message: string) {
    super(kind, message, EXIT_CODES[kind]);
  }
}
