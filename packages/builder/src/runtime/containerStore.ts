import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { withFileLock, type LocalStore } from '@tsbuild/oci-layout';
import { allDone } from './allDone.js';
import { batchedMap } from './batchedMap.js';
import { ContainerError } from './containerError.js';
import { CONTAINER_NAME, newContainerId } from './containerId.js';
import { ContainerNames } from './containerNames.js';
import { initialState, type ContainerRecord, type ContainerState } from './containerRecord.js';

const RECORD = 'container.json';
const STATE = 'state.json';

/** Where one container's files live. */
export class ContainerPaths {
  constructor(readonly dir: string) {}
  /** The bundle directory conmon and runc get: config.json, and conmon's `oom` marker. */
  get bundle(): string {
    return this.dir;
  }
  get spec(): string {
    return join(this.dir, 'config.json');
  }
  /** Overlay upper, work and merged directories. */
  get rootfsDir(): string {
    return join(this.dir, 'rootfs');
  }
  get merged(): string {
    return join(this.dir, 'rootfs', 'merged');
  }
  get log(): string {
    return join(this.dir, 'ctr.log');
  }
  /** conmon's exit file (`--exit-dir` is this directory): the exit status as text. */
  get exitFile(): string {
    return join(this.dir, basename(this.dir));
  }
  /** The copy conmon writes into its `--persist-dir`. */
  get persistedExitFile(): string {
    return join(this.dir, 'exit');
  }
  get oomFile(): string {
    return join(this.dir, 'oom');
  }
  get pidFile(): string {
    return join(this.dir, 'pidfile');
  }
  get conmonPidFile(): string {
    return join(this.dir, 'conmon.pid');
  }
  /** PID of a foreground `run` that will clean up and remove the container itself. */
  get attachedFile(): string {
    return join(this.dir, 'attached.pid');
  }
  /** conmon's attach socket (`--full-attach`). */
  get attachSocket(): string {
    return join(this.dir, 'attach');
  }
  /** conmon's control FIFO: `1 ROWS COLS` resizes the terminal. */
  get ctlFifo(): string {
    return join(this.dir, 'ctl');
  }
  get etcDir(): string {
    return join(this.dir, 'etc');
  }
}

export interface StoredContainer {
  record: ContainerRecord;
  paths: ContainerPaths;
}

/**
 * Containers under `<root>/containers/<id>`. Names are taken under one lock
 * so two `run --name x` never both win; a record and each state are written
 * to a temp file and renamed, so a reader never sees half of one.
 */
/** How many containers `list` (and `ps`) read side by side. */
export const CONTAINERS_AT_ONCE = 64;

/** Where a store's containers live. */
function containersDir(root: string): string {
  return join(root, 'containers');
}

/** The longest rootfs directory a container of the store at `root` can have (its ID is 64 hex digits): room a deep image's overlay must leave. */
export function widestContainerRootfs(root: string): string {
  return new ContainerPaths(join(containersDir(root), 'f'.repeat(64))).rootfsDir;
}

export class ContainerStore {
  readonly dir: string;
  private readonly names: ContainerNames;

  constructor(readonly store: LocalStore) {
    this.dir = containersDir(store.root);
    this.names = new ContainerNames(this.dir, (id) => this.readRecord(id), async () => (await this.list()).map((c) => c.record));
  }

  private get lockPath(): string {
    return join(this.dir, '.lock');
  }

  /** Serialises changes to one container (cleanup, start, remove) across processes. */
  withContainerLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.dir, `.${id}.lock`), fn);
  }

  paths(id: string): ContainerPaths {
    return new ContainerPaths(join(this.dir, id));
  }

  /** Reserves an ID and a unique name and writes the record; `build` fills in the rest of it. */
  async create(requestedName: string | undefined, build: (id: string, name: string) => ContainerRecord): Promise<StoredContainer> {
    if (requestedName !== undefined && !CONTAINER_NAME.test(requestedName)) {
      throw new ContainerError('invalid-option', `invalid container name ${JSON.stringify(requestedName)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    await mkdir(this.dir, { recursive: true });
    const id = newContainerId();
    const paths = this.paths(id);
    // Its directory and state are made while the lock is taken: no one counts a container without a record, so the lock
    // need only cover the names' check and the record. `preparedSettled` keeps a failure meanwhile from counting as unhandled.
    const prepared = mkdir(paths.dir, { mode: 0o700 }).then(() => atomicWrite(join(paths.dir, STATE), initialState()));
    const preparedSettled = Promise.allSettled([prepared]);
    try {
      return await withFileLock(this.lockPath, async () => {
        const { name, heldBy } = await this.names.takeFor(id, requestedName);
        if (heldBy !== undefined) throw new ContainerError('name-in-use', `the container name "${name}" is already in use by ${heldBy.slice(0, 12)}; remove it or choose another name`);
        try {
          const record = build(id, name);
          await prepared;
          await atomicWrite(join(paths.dir, RECORD), record);
          return { record, paths };
        } catch (e) {
          await this.names.release(name, id);
          throw e;
        }
      });
    } catch (e) {
      await preparedSettled;
      await rm(paths.dir, { recursive: true, force: true });
      throw e;
    }
  }

  async list(): Promise<StoredContainer[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const ids = names.filter((name) => /^[0-9a-f]{64}$/.test(name));
    // Side by side: `ps` and every `run` (for its unique name) read them all, and one after another that grew with their number.
    const records = await batchedMap(ids, CONTAINERS_AT_ONCE, (id) => this.readRecord(id));
    const out = ids.flatMap((id, i) => (records[i] ? [{ record: records[i]!, paths: this.paths(id) }] : []));
    // Newest first. ISO 8601 UTC times of one width sort as strings; localeCompare would first build ICU's collator, ~8 ms of every run and ps.
    return out.sort((a, b) => (a.record.created < b.record.created ? 1 : a.record.created > b.record.created ? -1 : 0));
  }

  /** A record, or undefined while it is being created or after it was removed. */
  private async readRecord(id: string): Promise<ContainerRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, id, RECORD), 'utf8')) as ContainerRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** By full ID, name, or a unique ID prefix. */
  async find(ref: string): Promise<StoredContainer> {
    if (/^[0-9a-f]{64}$/.test(ref)) {
      const record = await this.readRecord(ref);
      if (record) return { record, paths: this.paths(ref) };
    }
    if (CONTAINER_NAME.test(ref)) {
      const id = await this.names.holder(ref);
      const record = id === undefined ? undefined : await this.readRecord(id);
      if (record) return { record, paths: this.paths(id!) };
    }
    const all = await this.list();
    const byName = all.find((c) => c.record.name === ref);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = all.filter((c) => c.record.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new ContainerError('ambiguous', `container ID prefix "${ref}" is ambiguous`);
    }
    throw new ContainerError('not-found', `no such container: ${ref}`);
  }

  async readState(container: StoredContainer): Promise<ContainerState> {
    try {
      return JSON.parse(await readFile(join(container.paths.dir, STATE), 'utf8')) as ContainerState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new ContainerError('not-found', `no such container: ${container.record.id.slice(0, 12)} (it was removed)`);
    }
  }

  async writeState(container: StoredContainer, state: ContainerState): Promise<void> {
    await atomicWrite(join(container.paths.dir, STATE), state);
  }

  /**
   * Its record first: without one the container is gone for every reader, so its name may go while the rest of its
   * directory does (a crash before the name goes leaves a name whose holder has no record, which is free).
   */
  async remove(container: StoredContainer): Promise<void> {
    await rm(join(container.paths.dir, RECORD), { force: true });
    await allDone([
      rm(container.paths.dir, { recursive: true, force: true }),
      withFileLock(this.lockPath, () => this.names.release(container.record.name, container.record.id)),
    ]);
  }
}

async function atomicWrite(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}
