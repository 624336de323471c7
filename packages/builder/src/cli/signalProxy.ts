import type { StoredContainer } from '../runtime/containerStore.js';
import { runtimeKill } from '../runtime/ociRuntime.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** docker's sig-proxy: while attached without a terminal, signals to the CLI go to the container. Returns the undo. */
export function proxySignals(c: StoredContainer): () => void {
  const forward = (sig: NodeJS.Signals) => {
    runtimeKill(c.record.runtime, c.record.id, sig).catch((e: Error) => process.stderr.write(`tsbuild: cannot pass ${sig} on: ${e.message}\n`));
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  return () => {
    for (const sig of FORWARDED) process.off(sig, forward);
  };
}
