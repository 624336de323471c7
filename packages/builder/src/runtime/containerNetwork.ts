import type { NetworkMode } from './runOptions.js';

/**
 * The one place a container's network is made and unmade; `start` calls
 * `setupNetwork` before the runtime creates the container and cleanup calls
 * `teardownNetwork` after it exited (possibly from another process, the exit
 * command, so nothing is kept in memory between them).
 *
 * `none` needs nothing here (runc makes a fresh namespace with loopback only)
 * and `host` shares ours. Bridge networking plugs in here: `networkNamespacePath`
 * names `<root>/netns/<id>`, which the spec joins; `setupNetwork` creates and
 * bind-mounts that namespace and runs the CNI plugins on it with the port
 * mappings; `teardownNetwork` undoes both.
 */
export function networkNamespacePath(mode: NetworkMode): string | undefined {
  switch (mode) {
    case 'none':
    case 'host':
      return undefined;
  }
}

export async function setupNetwork(mode: NetworkMode): Promise<void> {
  switch (mode) {
    case 'none':
    case 'host':
      return;
  }
}

export async function teardownNetwork(mode: NetworkMode): Promise<void> {
  switch (mode) {
    case 'none':
    case 'host':
      return;
  }
}
