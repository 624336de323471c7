import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirIfExists, withFileLock, type LocalStore } from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';
import { newContainerId } from './containerId.js';
import type { ContainerRecord } from './containerRecord.js';
import type { ContainerStore } from './containerStore.js';

/** docker's rule for volume names. */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** `docker volume inspect`'s shape; `Anonymous` is ours (docker keeps it as a label). */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  Anonymous: boolean;
}

/**
 * Named volumes under `<root>/volumes/<name>`: the data in `_data` (what is
 * mounted), the record beside it. Created and removed under one lock, so two
 * `run -v data:/x` share one volume and `rm` never removes one being taken.
 */
export class VolumeStore {
  readonly dir: string;

  constructor(store: LocalStore) {
    this.dir = join(store.root, 'volumes');
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return mkdir(this.dir, { recursive: true }).then(() => withFileLock(join(this.dir, '.lock'), fn));
  }

  dataDir(name: string): string {
    return join(this.dir, name, '_data');
  }

  private recordPath(name: string): string {
    return join(this.dir, name, 'volume.json');
  }

  async find(name: string): Promise<VolumeRecord | undefined> {
    if (!VOLUME_NAME.test(name)) return undefined;
    try {
      return JSON.parse(await readFile(this.recordPath(name), 'utf8')) as VolumeRecord;
    } catch (e) {
      // The one error expected: no such volume.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async get(name: string): Promise<VolumeRecord> {
    const v = await this.find(name);
    if (!v) throw new ContainerError('not-found', `no such volume: ${name}`);
    return v;
  }

  /** The volume `name` (a new anonymous one without a name), created when missing; `created` says which. */
  async ensure(name: string | undefined, labels: Record<string, string> = {}): Promise<{ volume: VolumeRecord; created: boolean }> {
    const chosen = name ?? newContainerId();
    if (!VOLUME_NAME.test(chosen)) throw new ContainerError('invalid-option', `invalid volume name ${JSON.stringify(chosen)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    return this.withLock(async () => {
      const existing = await this.find(chosen);
      if (existing) return { volume: existing, created: false };
      const volume: VolumeRecord = {
        Name: chosen,
        Driver: 'local',
        Mountpoint: this.dataDir(chosen),
        CreatedAt: new Date().toISOString(),
        Labels: labels,
        Options: {},
        Scope: 'local',
        Anonymous: name === undefined,
      };
      await mkdir(this.dataDir(chosen), { recursive: true, mode: 0o755 });
      const tmp = `${this.recordPath(chosen)}.tmp`;
      await writeFile(tmp, `${JSON.stringify(volume, null, 2)}\n`);
      await rename(tmp, this.recordPath(chosen));
      return { volume, created: true };
    });
  }

  async list(): Promise<VolumeRecord[]> {
    const out: VolumeRecord[] = [];
    for (const name of (await readdirIfExists(this.dir)).sort()) {
      const v = await this.find(name);
      if (v) out.push(v);
    }
    return out;
  }

  /** Names of the containers (any state) whose mounts use `name`. */
  async users(containers: ContainerStore, name: string): Promise<string[]> {
    return (await containers.list()).filter((c) => c.record.mounts.some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.record.name);
  }

  /** Removes a volume no container uses (docker's rule, even with -f). */
  async remove(containers: ContainerStore, name: string): Promise<void> {
    await this.withLock(async () => {
      await this.get(name);
      const users = await this.users(containers, name);
      if (users.length > 0) throw new ContainerError('bad-state', `volume ${name} is in use by container ${users.join(', ')}`);
      // The record goes first: a half-removed volume is then no volume, never one with its data gone.
      await rm(this.recordPath(name));
      await rm(join(this.dir, name), { recursive: true, force: true });
    });
  }
}

/** `rm -v`: the anonymous volumes a removed container had; named ones stay, as docker. */
export async function removeAnonymousVolumes(volumes: VolumeStore, containers: ContainerStore, record: ContainerRecord): Promise<void> {
  for (const m of record.mounts) {
    if (m.Type !== 'volume' || !m.Name) continue;
    const v = await volumes.find(m.Name);
    if (v?.Anonymous && (await volumes.users(containers, v.Name)).length === 0) await volumes.remove(containers, v.Name);
  }
}
