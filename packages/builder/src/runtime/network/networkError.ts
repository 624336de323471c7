import { TOOL_FAILURE_EXIT_CODE, ToolError } from '@tsbuild/oci-layout';

/** What went wrong while networking a container; each kind is something a person can act on. */
export type NetworkErrorKind =
  /** A `-p/--publish` value that does not parse. */
  | 'invalid-publish'
  /** A host port that something else already holds. */
  | 'port-in-use'
  /** A container ID a CNI plugin or a file name cannot carry. */
  | 'invalid-container-id'
  /** A CNI plugin refused or failed (its own message is kept). */
  | 'plugin'
  /** Creating or removing the network namespace failed. */
  | 'netns'
  /** The bridge subnet overlaps a route the host already has. */
  | 'subnet-collision'
  /** A container's network state file that does not hold what setup wrote. */
  | 'damaged-state'
  /**
   * A forced teardown whose CNI DEL failed: the container's network record,
   * netns and port claim are gone anyway, and only what the failing plugin
   * set up may remain on the host.
   */
  | 'teardown-incomplete';

/** A one-line networking error; tsbuild fails with docker's 125 for all of them. */
export class NetworkError extends ToolError<NetworkErrorKind> {
  constructor(kind: NetworkErrorKind, message: string) {
    super(kind, message.replace(/\s*\n\s*/g, ' ').trim(), TOOL_FAILURE_EXIT_CODE);
    this.name = 'NetworkError';
  }
}

/** CNI_CONTAINERID's alphabet (CNI spec): it also names files under the root, so nothing else gets through. */
export function checkContainerId(containerId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) {
    throw new NetworkError('invalid-container-id', `invalid container ID ${JSON.stringify(containerId)}`);
  }
}
