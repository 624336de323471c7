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

const signalNames = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

/**
 * Runs a short tool (`argv[0]` on $PATH) to its end and collects what it wrote, as execFile
 * does, but spawned by the native addon on a thread of its own (posix_spawn): libuv's spawn
 * forks the whole Node process and holds the main thread 5-10 ms per call, which a container's
 * runtime and CNI calls paid about ten times over (#13). Rejects only when it cannot be started
 * (ENOENT and the like, as an fs-style error) or floods its output (more than 16 MiB).
 */
export async function runProcess(argv: string[], opts: ProcessOptions): Promise<ProcessOutcome> {
  const env = Object.entries(opts.env ?? process.env).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
  const input = typeof opts.input === 'string' ? Buffer.from(opts.input) : (opts.input ?? Buffer.alloc(0));
  let raw;
  try {
    raw = await fsNative().runProcess(argv, env, input, opts.timeoutMs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.syscall !== 'string' || !err.syscall.startsWith('spawn ')) throw e;
    // The addon's message is strerror's, then the call: keep the first part, name the program.
    throw Object.assign(new Error(`cannot run ${argv[0]}: ${err.message.slice(0, err.message.indexOf(':'))}`), { code: err.code });
  }
  if (raw.overflowed) throw new Error(`${argv[0]} wrote more than 16 MiB of output; it was stopped`);
  const signal = raw.signal === null ? null : (signalNames.get(raw.signal) ?? null);
  return { status: raw.status, signal, stdout: raw.stdout, stderr: raw.stderr, timedOut: raw.timedOut };
}
