import { readFile, stat } from 'node:fs/promises';
import { processExists, statIfExists } from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';
import { DirectoryChanges } from './directoryChanges.js';
import type { ContainerState } from './containerRecord.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { runtimeState } from './ociRuntime.js';

async function readExit(c: StoredContainer): Promise<{ code: number; at: string } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(c.paths.exitFile, 'utf8'), stat(c.paths.exitFile)]);
    const code = Number.parseInt(text.trim(), 10);
    return { code: Number.isInteger(code) ? code : -1, at: st.mtime.toISOString() };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The container's state as it is now, not as last written: a running
 * container whose conmon wrote an exit file has exited (with that status,
 * and OOM-killed if conmon left its `oom` marker); one whose conmon is gone
 * without an exit file is reported as such, from what the runtime says,
 * and never waited on.
 */
export async function observeState(containers: ContainerStore, c: StoredContainer): Promise<ContainerState> {
  const state = await containers.readState(c);
  if (state.status !== 'running') return state;
  const exit = await readExit(c);
  if (exit) return { ...state, status: 'exited', pid: 0, exitCode: exit.code, finishedAt: exit.at, oomKilled: (await statIfExists(c.paths.oomFile)) !== undefined };
  if (state.conmonPid > 0 && processExists(state.conmonPid)) return state;
  const gone = `conmon (pid ${state.conmonPid}) is gone without recording the container's exit`;
  const runtime = await runtimeState(c.record.runtime, c.record.id);
  if (runtime?.status === 'running') return { ...state, error: `${gone}; the container still runs` };
  return { ...state, status: 'exited', pid: 0, exitCode: -1, finishedAt: new Date().toISOString(), error: gone };
}

/**
 * How long a wait goes without looking when nothing in the container's
 * directory changed: a conmon killed before it wrote the exit file is seen
 * only by looking.
 */
export const SHIM_CHECK_MS = 1000;

/** Waits until the container is no longer running, woken by its exit file; undefined when `timeoutMs` passed first. */
export async function waitForExit(containers: ContainerStore, c: StoredContainer, timeoutMs = Number.POSITIVE_INFINITY): Promise<ContainerState | undefined> {
  const deadline = Date.now() + timeoutMs;
  const changes = new DirectoryChanges(c.paths.dir);
  try {
    for (;;) {
      const state = await observeState(containers, c);
      if (state.status !== 'running') return state;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await changes.next(Math.min(left, SHIM_CHECK_MS));
    }
  } finally {
    changes.close();
  }
}

/** `observeState`, or undefined when the container was removed meanwhile (`--rm`). */
export async function observeIfPresent(containers: ContainerStore, c: StoredContainer): Promise<ContainerState | undefined> {
  try {
    return await observeState(containers, c);
  } catch (e) {
    if (e instanceof ContainerError && e.kind === 'not-found') return undefined;
    throw e;
  }
}
