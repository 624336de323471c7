import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { runProcess } from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';

/** The runtimes `--runtime` accepts: both take the same command line. */
export const RUNTIMES = ['runc', 'crun'] as const;

/** How long a runtime query may take before we call the runtime stuck rather than hang a command. */
const QUERY_TIMEOUT_MS = 10_000;

/** The runtime's absolute path on $PATH (conmon wants one). */
export async function resolveRuntime(name: string): Promise<string> {
  if (!(RUNTIMES as readonly string[]).includes(name)) throw new ContainerError('invalid-option', `unknown --runtime ${JSON.stringify(name)}: expected runc or crun`);
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch (e) {
      // Not in this $PATH entry (or not executable there, or the entry is no directory): look in the next one.
      if (!['ENOENT', 'EACCES', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  throw new ContainerError('runtime', `OCI runtime ${name} not found on $PATH (apt-get install -y ${name})`);
}

/** The runtime's last error line: runc and crun write JSON or plain text. */
export function runtimeMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines.at(-1) ?? '';
  try {
    const parsed = JSON.parse(last) as { msg?: string };
    if (parsed.msg) return parsed.msg;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return last.replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, '$1').replace(/\\"/g, '"');
}

/** What a runtime says when it has no container of that ID. */
const UNKNOWN_CONTAINER = /does not exist|not exist|No such file/i;

/**
 * `runtime ARGS...` to its end: its stdout, or undefined when `unknownIsFine` and the runtime
 * does not know the container; any other failure is a ContainerError with the runtime's message.
 */
async function runtimeCall(runtime: string, args: string[], unknownIsFine = false): Promise<string | undefined> {
  let outcome;
  try {
    outcome = await runProcess([runtime, ...args], { timeoutMs: QUERY_TIMEOUT_MS });
  } catch (e) {
    throw new ContainerError('runtime', `${runtime} ${args[0]}: ${(e as Error).message}`);
  }
  if (outcome.timedOut) throw new ContainerError('runtime', `${runtime} ${args[0]} did not answer within ${QUERY_TIMEOUT_MS / 1000}s`);
  if (outcome.status === 0) return outcome.stdout.toString('utf8');
  const stderr = outcome.stderr.toString('utf8');
  if (unknownIsFine && UNKNOWN_CONTAINER.test(stderr)) return undefined;
  const ended = outcome.signal ? `killed by ${outcome.signal}` : `exit status ${outcome.status}`;
  throw new ContainerError('runtime', `${runtime} ${args[0]}: ${runtimeMessage(stderr) || ended}`);
}

export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid: number;
}

/** `runtime state ID`, or undefined when the runtime does not know the container. */
export async function runtimeState(runtime: string, id: string): Promise<RuntimeState | undefined> {
  const stdout = await runtimeCall(runtime, ['state', id], true);
  return stdout === undefined ? undefined : (JSON.parse(stdout) as RuntimeState);
}

/** `runtime ps ID PS-OPTIONS`: the host's ps, limited to the container's processes. */
export async function runtimeProcesses(runtime: string, id: string, psOptions: string[]): Promise<string> {
  return (await runtimeCall(runtime, ['ps', id, ...psOptions]))!;
}

export async function runtimeStart(runtime: string, id: string): Promise<void> {
  await runtimeCall(runtime, ['start', id]);
}

/** Sends a signal to the container's init; with `all`, to every process in it. */
export async function runtimeKill(runtime: string, id: string, signal: string, all = false): Promise<void> {
  await runtimeCall(runtime, ['kill', ...(all ? ['--all'] : []), id, signal]);
}

/** Removes the runtime's record and cgroup; a container the runtime does not know is already gone. */
export async function runtimeDelete(runtime: string, id: string): Promise<void> {
  await runtimeCall(runtime, ['delete', '--force', id], true);
}
