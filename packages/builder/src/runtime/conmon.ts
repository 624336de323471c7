import type { Readable, Writable } from 'node:stream';
import { spawnDetached } from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';
import { runtimeMessage } from './ociRuntime.js';

export interface ConmonRequest {
  id: string;
  name: string;
  /** Absolute path of runc or crun. */
  runtime: string;
  bundle: string;
  /** Where runc writes the container's PID. */
  pidFile: string;
  /** Where conmon writes its own PID after it daemonises. */
  conmonPidFile: string;
  /** k8s-file log: stdout and stderr lines apart, with timestamps. */
  logPath: string;
  /** conmon writes the exit status to `<exitDir>/<id>`. */
  exitDir: string;
  /** Where conmon leaves its `oom` marker (and another copy of the exit status, `exit`). */
  persistDir: string;
  socketDir: string;
  /** Keep a stdin pipe open for attach clients. */
  stdin: boolean;
  /** An attach client's end of input does not close the container's stdin. */
  leaveStdinOpen: boolean;
  /** The container gets a terminal: conmon receives the PTY master through runc's console socket. */
  terminal: boolean;
  /** Run when the container exits, with no tsbuild process needed: `tsbuild container cleanup ID`. */
  exitCommand: string[];
  runtimeArgs?: string[];
  logSizeMax?: number;
  /** conmon's name for this session: the attach socket is `<socketDir>/<sessionId>/attach` (default: the container's ID). */
  sessionId?: string;
  /** `conmon --exec`: runs this runtime-spec process file in the running container `id` (`runtime exec`), attached. */
  execProcessSpec?: string;
  /** The log goes with the container (`--rm`): no fsync of it when the container exits. */
  noSyncLog?: boolean;
}

/** conmon's own flags, as podman's libpod/oci_conmon_linux.go drives it (API version 1). */
export function conmonArgs(req: ConmonRequest): string[] {
  const args = [
    '--api-version', '1',
    '-c', req.id,
    '-u', req.sessionId ?? req.id,
    '-n', req.name,
    '-r', req.runtime,
    '-b', req.bundle,
    '-p', req.pidFile,
    '-P', req.conmonPidFile,
    '-l', `k8s-file:${req.logPath}`,
    '--exit-dir', req.exitDir,
    '--persist-dir', req.persistDir,
    '--socket-dir-path', req.socketDir,
    '--log-level', 'error',
  ];
  // A container's socket is `<bundle>/attach` itself; an exec session's goes through the short `<socketDir>/<sessionId>`
  // link conmon makes, since its own directory is deeper than a socket path may be long.
  if (req.execProcessSpec === undefined) args.push('--full-attach');
  if (req.logSizeMax !== undefined) args.push('--log-size-max', String(req.logSizeMax));
  if (req.noSyncLog) args.push('--no-sync-log');
  if (req.execProcessSpec !== undefined) args.push('--exec', '--exec-attach', '--exec-process-spec', req.execProcessSpec);
  if (req.terminal) args.push('-t');
  if (req.stdin) args.push('-i');
  if (req.stdin && req.leaveStdinOpen) args.push('--leave-stdin-open');
  for (const arg of req.runtimeArgs ?? []) args.push('--runtime-arg', arg);
  const [command, ...rest] = req.exitCommand;
  if (command) {
    args.push('--exit-command', command);
    for (const arg of rest) args.push('--exit-command-arg', arg);
  }
  return args;
}

/** One message on conmon's sync (or attach) pipe: a PID, exit status or 0 in `data`, negative on failure with a message. */
export interface SyncMessage {
  data: number;
  message?: string;
}

/** The JSON lines conmon writes on one of its pipes, read one at a time. */
export class SyncMessages {
  private text = '';
  private errText = '';
  private ended = false;
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;

  constructor(pipe: Readable, stderr: Readable) {
    stderr.on('data', (d: Buffer) => (this.errText += d.toString()));
    pipe.on('data', (d: Buffer) => {
      this.text += d.toString();
      this.waiter?.();
    });
    pipe.on('error', (e: Error) => {
      this.failure = e;
      this.waiter?.();
    });
    pipe.on('end', () => {
      this.ended = true;
      this.waiter?.();
    });
  }

  /** The next message; rejects when conmon closed the pipe first (its last stderr line says why). */
  async next(): Promise<SyncMessage> {
    for (;;) {
      const nl = this.text.indexOf('\n');
      if (nl >= 0) {
        const line = this.text.slice(0, nl);
        this.text = this.text.slice(nl + 1);
        try {
          return JSON.parse(line) as SyncMessage;
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e;
          throw new ContainerError('runtime', `conmon sent an unreadable sync message ${JSON.stringify(line)}: ${e.message}`);
        }
      }
      if (this.failure) throw this.failure;
      if (this.ended) {
        const why = this.errText.trim().split('\n').at(-1) ?? '';
        throw new ContainerError('runtime', `conmon ended before it reported${why ? `: ${why}` : ''}`);
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }
}

/** A conmon just started: its sync pipe (fd 3), start pipe (fd 4), attach pipe (fd 5, `conmon --exec`) and stderr. */
export interface ConmonPipes {
  sync: Readable;
  start: Writable;
  attach?: Readable;
  stderr: Readable;
  /** Lets go of every pipe: conmon lives on without us. */
  release(): void;
}

/**
 * Starts conmon with `args` in `cwd`, in a session of its own (a ctrl-c to the CLI's process
 * group must not reach the shim). It waits on its start pipe before it forks into the background.
 */
export function spawnConmon(conmon: string, args: string[], cwd: string, withAttachPipe: boolean): ConmonPipes {
  let started;
  try {
    started = spawnDetached([conmon, ...args], {
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(withAttachPipe ? { _OCI_ATTACHPIPE: '5' } : {}) },
      cwd,
      pipes: withAttachPipe ? ['read', 'write', 'read'] : ['read', 'write'],
    });
  } catch (e) {
    throw new ContainerError('runtime', `cannot start conmon (apt-get install -y conmon): ${(e as Error).message}`);
  }
  const [sync, start, attach] = started.pipes as (Readable & Writable)[];
  return {
    sync: sync!,
    start: start!,
    ...(attach ? { attach } : {}),
    stderr: started.stderr,
    release() {
      for (const pipe of [sync, start, attach, started.stderr]) pipe?.destroy();
    },
  };
}

/**
 * Creates the container through conmon: conmon double-forks into the
 * background (so this process may exit), runs `runtime create`, and reports
 * the container's PID on the sync pipe. The container is created, not
 * started: the caller runs `runtime start` once it is ready.
 */
export async function createWithConmon(conmon: string, req: ConmonRequest): Promise<number> {
  const pipes = spawnConmon(conmon, conmonArgs(req), req.bundle, false);
  const messages = new SyncMessages(pipes.sync, pipes.stderr);
  try {
    // conmon waits for this before it forks, so it could be moved into a cgroup first; we have none for it.
    pipes.start.end('0');
    const reply = await messages.next();
    if (reply.data < 0) throw createFailure(req.runtime, reply.message ?? '');
    return reply.data;
  } finally {
    pipes.release();
  }
}

/**
 * docker's exit codes for a command that cannot run: 127 when it is not
 * there, 126 when it is there but cannot be executed; anything else the
 * runtime refuses is tsbuild's failure (125).
 */
export function createFailure(runtime: string, raw: string): ContainerError {
  const message = runtimeMessage(raw) || raw.trim() || 'unknown error';
  const name = runtime.split('/').at(-1);
  if (/executable file not found|no such file or directory/i.test(message)) return new ContainerError('command-not-found', `${name}: ${message}`);
  if (/permission denied|is a directory|exec format error/i.test(message)) return new ContainerError('cannot-invoke', `${name}: ${message}`);
  return new ContainerError('runtime', `${name}: ${message}`);
}
