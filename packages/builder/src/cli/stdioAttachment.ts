import { attachToConmon } from '../runtime/attachClient.js';
import { ContainerError } from '../runtime/containerError.js';
import { waitForExit } from '../runtime/containerStatus.js';
import type { ContainerStore, StoredContainer } from '../runtime/containerStore.js';
import type { AttachPoint } from '../runtime/execSession.js';
import { ExitStatus } from './exitStatus.js';
import { proxySignals } from './signalProxy.js';
import { parseDetachKeys, TerminalSession } from './terminalSession.js';

export interface StdioAttachment {
  /** 'exited' once conmon closes the socket, 'detached' when the detach keys were typed. */
  done: Promise<'exited' | 'detached'>;
  /** Gives our terminal back (raw mode off); safe to call more than once. */
  end(): void;
}

/**
 * Our stdout, stderr and (with `stdin`) stdin joined to a container through
 * conmon's attach socket; for a -t container our terminal goes raw, its size
 * is passed on and the detach keys are watched for. Used by run, start -a and attach.
 */
export async function attachStdio(c: StoredContainer, opts: { stdin: boolean; detachKeys: string }): Promise<StdioAttachment> {
  return attachStdioAt({ attachSocket: c.paths.attachSocket, ctlFifo: c.paths.ctlFifo, tty: c.record.tty }, opts);
}

/** attachStdio to whatever conmon serves at `at`: a container or an exec session. */
export async function attachStdioAt(at: AttachPoint, opts: { stdin: boolean; detachKeys: string }): Promise<StdioAttachment> {
  const detachKeys = parseDetachKeys(opts.detachKeys);
  const terminal = at.tty ? new TerminalSession(at.ctlFifo, detachKeys) : undefined;
  try {
    await terminal?.sendSize();
    const attachment = await attachToConmon(at.attachSocket, {
      ...(opts.stdin ? { stdin: process.stdin } : {}),
      onOutput: (stream, data) => (stream === 'stdout' ? process.stdout : process.stderr).write(data),
      ...(terminal ? { detachOn: (chunk: Buffer) => terminal.sawDetach(chunk) } : {}),
    });
    return { done: attachment.done, end: () => terminal?.end() };
  } catch (e) {
    terminal?.end();
    throw e;
  }
}

/**
 * Stays attached until the container exits (then ends with its exit code,
 * as an ExitStatus) or the detach keys are typed; signals we get go to the
 * container, except with a terminal, where ctrl-c is a byte to its tty driver.
 */
export async function followAttachment(containers: ContainerStore, c: StoredContainer, attachment: StdioAttachment): Promise<void> {
  const stopProxy = c.record.tty ? () => {} : proxySignals(c);
  let how: 'exited' | 'detached';
  try {
    how = await attachment.done;
  } finally {
    attachment.end();
    stopProxy();
  }
  if (how === 'detached') {
    process.stderr.write(`\nDetached from ${c.record.name}; it runs on\n`);
    return;
  }
  let state;
  try {
    state = await waitForExit(containers, c);
  } catch (e) {
    // Removed as it exited (`--rm`): its exit code went with it.
    if (!(e instanceof ContainerError && e.kind === 'not-found')) throw e;
  }
  if (state && state.exitCode !== 0) throw new ExitStatus(state.exitCode < 0 ? 125 : state.exitCode);
}
