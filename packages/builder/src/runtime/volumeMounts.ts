import { closeSync, constants, openSync } from 'node:fs';
import { chmod, chown, readdir } from 'node:fs/promises';
import { posix, relative } from 'node:path';
import { fsNative, fsPath, resolveInRoot, type LayerChange, type LayerEntry } from '@tsbuild/oci-layout';
import { absoluteContainerPath, invalid, parseTmpfs, type TmpfsMount, type VolumeMount } from './runOptions.js';
import type { VolumeStore } from './volumeStore.js';

/**
 * `-v HOST:CTR[:ro|rw]`, `-v NAME:CTR[:ro|rw]` (a source without a slash is a
 * named volume, created on first use) or `-v CTR` (a new anonymous volume).
 */
export function parseVolume(spec: string): VolumeMount {
  const parts = spec.split(':');
  if (parts.length > 3) throw invalid(`invalid volume ${JSON.stringify(spec)}: expected [HOST|NAME:]CONTAINER[:ro]`);
  if (parts.length === 1) return { source: '', destination: absoluteContainerPath(spec, '-v'), readOnly: false, volume: {} };
  const [source, destination, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid volume mode ${JSON.stringify(mode)} in ${JSON.stringify(spec)}: expected ro or rw`);
  const target = absoluteContainerPath(destination, '-v');
  if (source.includes('/')) {
    if (!source.startsWith('/')) throw invalid(`invalid volume ${JSON.stringify(spec)}: a host path must be absolute`);
    return { source: posix.normalize(source), destination: target, readOnly: mode === 'ro' };
  }
  return { source: '', destination: target, readOnly: mode === 'ro', volume: { name: source } };
}

/** What `--mount` gives: a bind or volume mount, or a tmpfs. */
export type MountFlag = { kind: 'volume'; mount: VolumeMount } | { kind: 'tmpfs'; mount: TmpfsMount };

/** `--mount type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=]`, docker's keys and aliases. */
export function parseMount(spec: string): MountFlag {
  const fields = new Map<string, string | undefined>();
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    if (key) fields.set(key, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const take = (...keys: string[]) => keys.map((k) => fields.get(k)).find((v) => v !== undefined);
  const type = take('type') ?? 'volume';
  const target = take('target', 'destination', 'dst');
  if (!target) throw invalid(`invalid --mount ${JSON.stringify(spec)}: target= is required`);
  const destination = absoluteContainerPath(target, '--mount');
  const ro = ['readonly', 'ro'].some((k) => fields.has(k) && !['false', '0'].includes(fields.get(k) ?? 'true'));
  const source = take('source', 'src');
  const known = new Set(['type', 'target', 'destination', 'dst', 'source', 'src', 'readonly', 'ro', 'tmpfs-size', 'tmpfs-mode']);
  const unknown = [...fields.keys()].filter((k) => !known.has(k));
  if (unknown.length > 0) throw invalid(`invalid --mount ${JSON.stringify(spec)}: unknown option ${unknown[0]}`);
  switch (type) {
    case 'bind':
      if (!source?.startsWith('/')) throw invalid(`invalid --mount ${JSON.stringify(spec)}: a bind mount needs an absolute source=`);
      return { kind: 'volume', mount: { source: posix.normalize(source), destination, readOnly: ro } };
    case 'volume':
      if (source !== undefined && source.includes('/')) throw invalid(`invalid --mount ${JSON.stringify(spec)}: a volume's source is a name, not a path`);
      return { kind: 'volume', mount: { source: '', destination, readOnly: ro, volume: source ? { name: source } : {} } };
    case 'tmpfs': {
      if (source !== undefined) throw invalid(`invalid --mount ${JSON.stringify(spec)}: a tmpfs has no source`);
      const size = take('tmpfs-size');
      const mode = take('tmpfs-mode');
      const options = [...(size ? [`size=${size}`] : []), ...(mode ? [`mode=${mode}`] : []), ...(ro ? ['ro'] : [])];
      return { kind: 'tmpfs', mount: parseTmpfs(`${destination}${options.length ? `:${options.join(',')}` : ''}`) };
    }
    default:
      throw invalid(`invalid --mount ${JSON.stringify(spec)}: type must be bind, volume or tmpfs`);
  }
}

/** Named and anonymous volumes made real: each exists, and `source` is its data directory. Returns which were created now. */
export async function provideVolumes(volumes: VolumeStore, mounts: VolumeMount[]): Promise<{ mounts: VolumeMount[]; created: string[] }> {
  const created: string[] = [];
  const out: VolumeMount[] = [];
  for (const m of mounts) {
    if (!m.volume) {
      out.push(m);
      continue;
    }
    const { volume, created: isNew } = await volumes.ensure(m.volume.name);
    if (isNew) created.push(volume.Name);
    out.push({ ...m, source: volume.Mountpoint, volume: { name: volume.Name } });
  }
  return { mounts: out, created };
}

async function* asChanges(entries: AsyncIterable<LayerEntry>): AsyncGenerator<LayerChange> {
  for await (const entry of entries) yield { kind: 'entry', entry };
}

/**
 * docker's copy-up: an empty volume mounted where the image has a directory
 * gets that directory's contents (owners and modes kept). The image side is
 * read beneath the container's root without following its symlinks out.
 */
export async function copyUpIntoVolume(rootfs: string, destination: string, dataDir: string): Promise<void> {
  if ((await readdir(dataDir)).length > 0) return;
  // Loaded for a copy-up only: a container without named volumes needs none of it, nor the layer applier (#14, #13).
  const { readTreeBeneath, statBeneath } = await import('./treeBeneath.js');
  const { applyChanges } = await import('@tsbuild/oci-layout');
  const rel = relative(rootfs, await resolveInRoot(rootfs, destination, { followFinal: true }));
  if (rel === '') return;
  const rootFd = openSync(rootfs, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    let parentFd: number;
    try {
      parentFd = fsNative().openDirectoryBeneath(rootFd, fsPath(parent));
    } catch (e) {
      // Nothing in the image at that path (or not a directory): nothing to copy.
      if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return;
      throw e;
    }
    try {
      const image = await statBeneath(parentFd, posix.basename(rel));
      if (!image?.isDirectory()) return;
      await applyChanges(dataDir, asChanges(readTreeBeneath(parentFd, posix.basename(rel), '')));
      // The volume's root takes the directory's owner and mode too, so a non-root user can still write there.
      await chown(dataDir, image.uid, image.gid);
      await chmod(dataDir, image.mode & 0o7777);
    } finally {
      closeSync(parentFd);
    }
  } finally {
    closeSync(rootFd);
  }
}
