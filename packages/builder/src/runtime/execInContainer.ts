import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { resolveUser } from '@tsbuild/oci-layout';
import { createFailure } from './conmon.js';
import { ContainerError } from './containerError.js';
import type { ContainerSpec } from './containerSpec.js';
import { observeState } from './containerStatus.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { mergeEnv } from './runOptions.js';
import { resolveRuntime } from './ociRuntime.js';

export interface ExecRequest {
  command: string[];
  env: string[];
  user?: string;
  workdir?: string;
  /** Start it and return at once, its output discarded. */
  detach: boolean;
  /** Pass our stdin on (without it the process gets an empty stdin). */
  interactive: boolean;
}

/**
 * Runs a process in a running container with `runtime exec`: it joins the
 * container's namespaces and cgroup and gets its capabilities, seccomp
 * filter and environment. Our stdout and stderr are its own; no terminal
 * (`exec -t` is an exec session, execSession.ts). Resolves with
 * its exit status (128+N for a signal).
 */
export async function execInContainer(containers: ContainerStore, c: StoredContainer, req: ExecRequest): Promise<number> {
  const state = await observeState(containers, c);
  if (state.status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
  const runtime = await resolveRuntime(c.record.runtime);
  const spec = JSON.parse(await readFile(c.paths.spec, 'utf8')) as ContainerSpec;
  const args = ['exec'];
  for (const e of mergeEnv(spec.process.env, req.env)) args.push('--env', e);
  if (req.user !== undefined) {
    const user = await resolveUser(c.paths.merged, req.user);
    args.push('--user', `${user.uid}:${user.gid}`);
    for (const gid of user.additionalGids) args.push('--additional-gids', String(gid));
  }
  args.push('--cwd', req.workdir ?? spec.process.cwd);
  if (req.detach) args.push('--detach');
  args.push(c.record.id, ...req.command);
  const child = spawn(runtime, args, { stdio: [req.interactive && !req.detach ? 'inherit' : 'ignore', req.detach ? 'ignore' : 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    // The runtime's own complaints are JSON or `time=... level=error`; the process's stderr passes through.
    const text = d.toString();
    if (/^(\{"|time=")/m.test(text) && /level"?[=:]"?error/.test(text)) stderr += text;
    else process.stderr.write(d);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c2, s) => resolve([c2, s]));
  });
  if (stderr) throw createFailure(runtime, stderr);
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}
