import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { currentProcess, parseProcessIdentity, processAlive, readdirIfExists, readTextIfExists, withNoSpacePath, type LocalStore, type ProcessIdentity } from '@tsbuild/oci-layout';
import { unmount } from './overlayMount.js';

/**
 * What a build step holds outside the store's files while it runs: overlay
 * mounts, a runc container, its work directory. SIGKILL leaves no chance to
 * let go of them, so each is written down first, under `<store>/runs`, with
 * the owner's PID and start time; whoever finds the owner gone releases them.
 */
export interface RunRecord {
  owner: ProcessIdentity;
  workDir: string;
  /** Mount points, innermost last. */
  mounts: string[];
  containerId?: string;
}

export interface HeldRun {
  record: RunRecord;
  /** Drops the record once the step let go of everything itself. */
  release(): Promise<void>;
}

function runsDir(store: LocalStore): string {
  return join(store.root, 'runs');
}

/** Writes the record before anything it names exists, so a kill at any point leaves it behind. */
export async function holdRun(store: LocalStore, what: Omit<RunRecord, 'owner'>): Promise<HeldRun> {
  const dir = runsDir(store);
  await mkdir(dir, { recursive: true });
  const record: RunRecord = { owner: currentProcess(), ...what };
  const name = `${record.owner.pid}-${randomBytes(6).toString('hex')}.json`;
  const tmp = join(dir, `.${name}`);
  try {
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, join(dir, name));
  } catch (e) {
    throw withNoSpacePath(e, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
  return { record, release: () => rm(join(dir, name), { force: true }) };
}

function parseRecord(text: string, file: string): RunRecord {
  const r = JSON.parse(text) as Partial<RunRecord>;
  const owner = r.owner as Partial<ProcessIdentity> | undefined;
  if (typeof owner?.pid !== 'number' || typeof owner.startTime !== 'string' || typeof r.workDir !== 'string' || !Array.isArray(r.mounts) || !r.mounts.every((m) => typeof m === 'string')) {
    throw new Error(`${file} is not a run record`);
  }
  return { owner: { pid: owner.pid, startTime: owner.startTime }, workDir: r.workDir, mounts: r.mounts, ...(typeof r.containerId === 'string' ? { containerId: r.containerId } : {}) };
}

/** Records whose owner is gone, with the file each is in. */
export async function deadRuns(store: LocalStore): Promise<{ file: string; record: RunRecord }[]> {
  const dir = runsDir(store);
  const names = await readdirIfExists(dir);
  const out: { file: string; record: RunRecord }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (name.startsWith('.')) {
      // A record being written; its writer's PID is in the name.
      const owner = parseProcessIdentity(name.slice(1).split('-')[0] ?? '');
      if (!owner || !processAlive(owner)) out.push({ file, record: { owner: owner ?? { pid: 0, startTime: '' }, workDir: '', mounts: [] } });
      continue;
    }
    const text = await readTextIfExists(file);
    // Its owner finished and removed it between the listing and the read.
    if (text === undefined) continue;
    const record = parseRecord(text, file);
    if (!processAlive(record.owner)) out.push({ file, record });
  }
  return out;
}

/**
 * Releases what killed builds held: their runc containers (killed and
 * deleted), their mounts, their work directories. Returns one line per
 * thing released.
 */
export async function reapDeadRuns(store: LocalStore): Promise<string[]> {
  const done: string[] = [];
  for (const { file, record } of await deadRuns(store)) {
    if (record.containerId) {
      // The runtime driver loads only here: holding a run (`tsbuild run` mounting its rootfs) needs none of it (#14).
      const { runtimeDelete } = await import('./ociRuntime.js');
      await runtimeDelete('runc', record.containerId);
      done.push(`deleted the runc container ${record.containerId} of killed process ${record.owner.pid}`);
    }
    for (const mount of [...record.mounts].reverse()) {
      if (await isMounted(mount)) {
        await unmount(mount);
        done.push(`unmounted ${mount}`);
      }
    }
    if (record.workDir) {
      await rm(record.workDir, { recursive: true, force: true });
    }
    await rm(file, { force: true });
  }
  return done;
}

/** Whether `path` is a mount point in this mount namespace (/proc/self/mountinfo escapes space, tab, newline and backslash as octal). */
export async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => {
    const point = line.split(' ')[4];
    return point !== undefined && point.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))) === path;
  });
}
