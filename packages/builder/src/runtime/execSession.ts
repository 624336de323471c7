import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { resolveUser } from '@tsbuild/oci-layout';
import { conmonArgs, createFailure, spawnConmon, SyncMessages } from './conmon.js';
import type { ContainerSpec } from './containerSpec.js';
import type { StoredContainer } from './containerStore.js';
import { resolveRuntime } from './ociRuntime.js';
import { mergeEnv } from './runOptions.js';
import { CONMON } from './startContainer.js';

export interface ExecSessionRequest {
  command: string[];
  env: string[];
  user?: string;
  workdir?: string;
  terminal: boolean;
  stdin: boolean;
}

/** Where a client attaches to an exec session, as to a container. */
export interface AttachPoint {
  attachSocket: string;
  /** conmon's control FIFO: `1 ROWS COLS` resizes the terminal. */
  ctlFifo: string;
  tty: boolean;
}

export interface ExecSession {
  /** Resolves with the process's exit status (128+N for a signal) once it ended. */
  exitCode: Promise<number>;
  /** Lets go of conmon (after a detach): the process runs on, and exitCode never settles. */
  release(): void;
}

/**
 * A process in a running container under a conmon of its own (`conmon
 * --exec`, as podman's exec): conmon holds its terminal and attach socket,
 * so the client may detach and leave it running. `attach` runs once conmon
 * listens and before the process starts, so nothing of its output is missed.
 * The process gets the container's spec (capabilities, seccomp, rlimits) with
 * the command, environment, user and directory asked for.
 */
export async function startExecSession(c: StoredContainer, req: ExecSessionRequest, attach: (at: AttachPoint) => Promise<void>): Promise<ExecSession> {
  const runtime = await resolveRuntime(c.record.runtime);
  const sessionId = `exec-${randomBytes(6).toString('hex')}`;
  const dir = join(c.paths.dir, 'exec', sessionId);
  await mkdir(dir, { recursive: true });
  const spec = JSON.parse(await readFile(c.paths.spec, 'utf8')) as ContainerSpec;
  const user = req.user === undefined ? spec.process.user : await resolveUser(c.paths.merged, req.user).then((u) => ({ uid: u.uid, gid: u.gid, additionalGids: u.additionalGids }));
  const processSpec = join(dir, 'process.json');
  await writeFile(processSpec, JSON.stringify({
    ...spec.process,
    terminal: req.terminal,
    args: req.command,
    env: mergeEnv(spec.process.env, req.env),
    cwd: req.workdir ?? spec.process.cwd,
    user,
  }));
  const socketDir = dirname(c.paths.dir);
  const pipes = spawnConmon(CONMON, conmonArgs({
    id: c.record.id,
    sessionId,
    name: c.record.name,
    runtime,
    bundle: dir,
    pidFile: join(dir, 'pidfile'),
    conmonPidFile: join(dir, 'conmon.pid'),
    logPath: join(dir, 'exec.log'),
    exitDir: dir,
    persistDir: dir,
    socketDir,
    stdin: req.stdin,
    // Leaving the terminal (detach keys) looks to conmon like the end of input: the process's stdin must survive it.
    leaveStdinOpen: req.terminal,
    terminal: req.terminal,
    exitCommand: [],
    execProcessSpec: processSpec,
  }), dir, true);
  const { start, release } = pipes;
  const sync = new SyncMessages(pipes.sync, pipes.stderr);
  const attachReady = new SyncMessages(pipes.attach!, pipes.stderr);
  try {
    // First: conmon forks into the background and sets up the attach socket; second (after we attached): the runtime runs the process.
    start.write('0');
    const ready = await attachReady.next();
    if (ready.data < 0) throw createFailure(runtime, ready.message ?? '');
    await attach({ attachSocket: join(socketDir, sessionId, 'attach'), ctlFifo: join(dir, 'ctl'), tty: req.terminal });
    start.end('0');
    const started = await sync.next();
    if (started.data < 0) throw createFailure(runtime, started.message ?? '');
  } catch (e) {
    release();
    throw e;
  }
  // conmon reports the exit status on the same pipe when the process ends; the session's files have served then.
  const exitCode = sync.next().then((ended) => {
    if (ended.data < 0) throw createFailure(runtime, ended.message ?? 'the exit status is unknown');
    return ended.data;
  }).finally(async () => {
    release();
    await rm(dir, { recursive: true, force: true });
  });
  return { exitCode, release };
}
