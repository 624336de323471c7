import { readFile, writeFile } from 'node:fs/promises';
import type { RuntimeSpec } from '@tsbuild/oci-layout';

/** `--add-host NAME:IP`: one more line in a RUN's /etc/hosts. */
export interface ExtraHost {
  name: string;
  ip: string;
}

/** `--ulimit nofile=1024:2048`, as an OCI runtime spec rlimit. */
export interface Ulimit {
  type: string;
  soft: number;
  hard: number;
}

/** Build-wide settings of every RUN's container: docker build's --add-host, --ulimit and --shm-size. */
export interface RunSettings {
  extraHosts: ExtraHost[];
  ulimits: Ulimit[];
  /** Size of /dev/shm in bytes; runc's 64 MiB default otherwise. */
  shmSize?: number;
}

/** Ulimits replace inherited limits only for the resources named; /dev/shm gets its size. */
export function applyRunSettings(spec: RuntimeSpec, settings: RunSettings): void {
  spec.process.rlimits = settings.ulimits.map((u) => ({ ...u }));
  const size = settings.shmSize;
  if (size === undefined) return;
  spec.mounts = spec.mounts.map((m) => (m.destination === '/dev/shm'
    ? { ...m, options: [...(m.options ?? []).filter((o) => !o.startsWith('size=')), `size=${size}`] }
    : m));
}

/** The host's /etc/hosts plus the extra names, written to `path` for a RUN to bind in, as docker builds do. */
export async function writeHostsFile(path: string, extraHosts: ExtraHost[]): Promise<void> {
  const base = await readFile('/etc/hosts', 'utf8');
  const lines = extraHosts.map((h) => `${h.ip}\t${h.name}\n`).join('');
  await writeFile(path, `${base}${base.endsWith('\n') || base === '' ? '' : '\n'}${lines}`, { mode: 0o644 });
}
