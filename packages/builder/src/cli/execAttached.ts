import { ContainerError } from '../runtime/containerError.js';
import { observeState } from '../runtime/containerStatus.js';
import type { ContainerStore, StoredContainer } from '../runtime/containerStore.js';
import { startExecSession, type ExecSession, type ExecSessionRequest } from '../runtime/execSession.js';
import { ExitStatus } from './exitStatus.js';
import { attachStdioAt, type StdioAttachment } from './stdioAttachment.js';

/**
 * `exec -t`: the process under a conmon of its own, our terminal attached
 * to its terminal as `attach` does (raw, resizes passed on); the detach keys
 * leave it running. Ends with its exit code.
 */
export async function execAttached(containers: ContainerStore, c: StoredContainer, req: ExecSessionRequest, detachKeys: string): Promise<void> {
  if ((await observeState(containers, c)).status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
  let attachment: StdioAttachment | undefined;
  let session: ExecSession;
  try {
    session = await startExecSession(c, req, async (at) => {
      attachment = await attachStdioAt(at, { stdin: req.stdin, detachKeys });
    });
  } catch (e) {
    attachment?.end();
    throw e;
  }
  let how: 'exited' | 'detached';
  try {
    how = await attachment!.done;
  } finally {
    attachment!.end();
  }
  if (how === 'detached') {
    session.release();
    process.stderr.write(`\nDetached from the exec session in ${c.record.name}; it runs on\n`);
    return;
  }
  const code = await session.exitCode;
  if (code !== 0) throw new ExitStatus(code);
}
