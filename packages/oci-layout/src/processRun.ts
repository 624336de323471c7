import { Socket } from 'node:net';
import { constants } from 'node:os';
import { fsNative } from './fsNative.js';

export interface ProcessOutcome {
  /** The exit status, or null when a signal ended the process. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** It outlived `timeoutMs` and was killed. */
  timedOut: boolean;
}

export interface ProcessOptions {
  /** The child's whole environment; this process's by default. */
  env?: NodeJS.ProcessEnv;
  /** Its stdin, then end of file; without it, stdin is at end of file at once. */
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long. */
  timeoutMs: number;
}

/** An environment as execve takes it: `NAME=value` strings. */
function environment(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
}

/** The addon's error when a program could not be started, as one line naming the program (its code kept); any other error as it is. */
function spawnFailure(program: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err.syscall !== 'string' || !err.syscall.startsWith('spawn ')) return e;
  // The addon's message is strerror's, then the call: keep the first part.
  return Object.assign(new Error(`cannot run ${program}: ${err.message.slice(0, err.message.indexOf(':'))}`), { code: err.code });
}

const signalNames = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

/**
 * Runs a short tool (`argv[0]` on $PATH) to its end and collects what it wrote, as execFile
 * does, but spawned by the native addon on a thread of its own (posix_spawn): libuv's spawn
 * forks the whole Node process and holds the main thread 5-10 ms per call, which a container's
 * runtime and CNI calls paid about ten times over (#13). Rejects only when it cannot be started
 * (one line naming it, with the errno's `code`) or floods its output (more than 16 MiB).
 */
export async function runProcess(argv: string[], opts: ProcessOptions): Promise<ProcessOutcome> {
  const input = typeof opts.input === 'string' ? Buffer.from(opts.input) : (opts.input ?? Buffer.alloc(0));
  let raw;
  try {
    raw = await fsNative().runProcess(argv, environment(opts.env), input, opts.timeoutMs);
  } catch (e) {
    throw spawnFailure(argv[0]!, e);
  }
  if (raw.overflowed) throw new Error(`${argv[0]} wrote more than 16 MiB of output; it was stopped`);
  const signal = raw.signal === null ? null : (signalNames.get(raw.signal) ?? null);
  return { status: raw.status, signal, stdout: raw.stdout, stderr: raw.stderr, timedOut: raw.timedOut };
}

export interface DetachedProcess {
  pid: number;
  /** Its stderr. */
  stderr: Socket;
  /** Our ends of its fds 3, 4, ...: readable where it writes, writable where it reads. */
  pipes: Socket[];
}

export interface DetachedOptions {
  env?: NodeJS.ProcessEnv;
  cwd: string;
  /** One pipe per entry, as the child's fd 3, 4, ...: `read` when we read what it writes, `write` when we write what it reads. */
  pipes: ('read' | 'write')[];
}

/**
 * Starts a daemon (conmon) in a session of its own, with /dev/null as stdin and stdout: posix_spawn
 * by the addon holds this thread ~1 ms, where libuv's fork of the whole process held it 5-10 ms.
 * Its first process is reaped when it exits. Throws at once when it cannot be started.
 */
export function spawnDetached(argv: string[], opts: DetachedOptions): DetachedProcess {
  let raw;
  try {
    raw = fsNative().spawnDetached(argv, environment(opts.env), opts.cwd, opts.pipes);
  } catch (e) {
    throw spawnFailure(argv[0]!, e);
  }
  return {
    pid: raw.pid,
    stderr: new Socket({ fd: raw.stderr, readable: true, writable: false }),
    pipes: raw.fds.map((fd, i) => (opts.pipes[i] === 'read' ? new Socket({ fd, readable: true, writable: false }) : new Socket({ fd, readable: false, writable: true }))),
  };
}
