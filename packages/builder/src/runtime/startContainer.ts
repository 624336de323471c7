import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LocalStore } from '@tsbuild/oci-layout';
import { allDone } from './allDone.js';
import { createWithConmon } from './conmon.js';
import { ContainerError } from './containerError.js';
import { ContainerConnection } from './containerNetwork.js';
import type { ContainerState } from './containerRecord.js';
import { mountContainerRootfs, unmountContainerRootfs } from './containerRootfs.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { etcFilesIn } from './etcFiles.js';
import { cleanupCommand } from './exitCommand.js';
import { resolveRuntime, runtimeDelete, runtimeStart } from './ociRuntime.js';

export const CONMON = 'conmon';

export interface StartOptions {
  /** Runs once the container is created and conmon listens on its attach socket, before its process starts. */
  beforeStart?: () => Promise<void>;
  /**
   * Created by this process a moment ago (`run`): its rootfs is mounted, and no runtime container,
   * network or exit files of its ID can be left from a crash.
   */
  fresh?: boolean;
  /** The container's connection, begun when it was created (`run`): taken over here, waited for or undone, instead of begun. */
  network?: ContainerConnection;
}

/**
 * Starts a created or exited container: rootfs and network up, conmon
 * creates it through the runtime, then `runtime start`. On failure the
 * runtime's container, network and mount are undone and the error (the
 * runtime's own reason) is thrown; the record stays, as docker keeps it.
 */
export async function startContainer(store: LocalStore, containers: ContainerStore, c: StoredContainer, previous: ContainerState, opts: StartOptions = {}): Promise<ContainerState> {
  const { record, paths } = c;
  let network = opts.network;
  let runtime: string | undefined;
  try {
    // The CNI plugins configure the netns while conmon and the runtime create the container in it (they only join it
    // by path); both are done before its process starts. The hosts file gets the address in place, under its bind mount.
    network ??= new ContainerConnection(store.root, record, etcFilesIn(paths.etcDir).hosts, { fresh: opts.fresh ?? false });
    const resolving = resolveRuntime(record.runtime).then((path) => (runtime = path));
    // Independent of each other: the runtime's path, the netns, and (unless fresh) the rootfs, the runtime's container
    // a crash left behind (it would make `create` fail) and the exit files of a previous run.
    await allDone([
      resolving,
      network.netns(),
      ...(opts.fresh
        ? []
        : [
            mountContainerRootfs(store, record, paths),
            resolving.then((path) => runtimeDelete(path, record.id)),
            ...[paths.exitFile, paths.persistedExitFile, paths.oomFile, paths.pidFile, paths.conmonPidFile].map((f) => rm(f, { force: true })),
          ]),
    ]);
    const runtimePath = await resolving;
    const pid = await createWithConmon(CONMON, {
      id: record.id,
      name: record.name,
      runtime: runtimePath,
      bundle: paths.bundle,
      pidFile: paths.pidFile,
      conmonPidFile: paths.conmonPidFile,
      logPath: paths.log,
      exitDir: paths.dir,
      persistDir: paths.dir,
      socketDir: dirname(paths.dir),
      stdin: record.openStdin,
      // Leaving a terminal (detach keys) looks to conmon like the end of input: a terminal's stdin must survive it.
      leaveStdinOpen: !record.stdinOnce || record.tty,
      terminal: record.tty,
      ...(record.logSizeMax !== undefined ? { logSizeMax: record.logSizeMax } : {}),
      noSyncLog: record.autoRemove,
      exitCommand: cleanupCommand(store.root, record.id, record.restart.kind === 'no' ? paths.attachedFile : undefined),
    });
    await network.done;
    const conmonPid = Number.parseInt(await readFile(paths.conmonPidFile, 'utf8'), 10);
    const state: ContainerState = {
      ...previous,
      status: 'running',
      pid,
      conmonPid,
      startedAt: new Date().toISOString(),
      finishedAt: previous.finishedAt,
      exitCode: 0,
      oomKilled: false,
      error: '',
    };
    await containers.writeState(c, state);
    await opts.beforeStart?.();
    await runtimeStart(runtimePath, record.id);
    return state;
  } catch (e) {
    // Without a runtime there is no runtime container; the network's undo waits for connecting to end (its failure, if it is the one, is `e`).
    await allDone([
      ...(runtime ? [runtimeDelete(runtime, record.id)] : []),
      ...(network ? [network.undo()] : []),
      unmountContainerRootfs(paths),
    ]);
    const message = e instanceof Error ? e.message : String(e);
    await containers.writeState(c, { ...previous, status: previous.status === 'created' ? 'created' : 'exited', pid: 0, conmonPid: 0, error: message });
    if (e instanceof ContainerError) throw e;
    throw new ContainerError('runtime', message);
  }
}
