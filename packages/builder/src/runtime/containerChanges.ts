import type { Stats } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { encodeName, fsNative, fsPath, type LayerChange, type LocalStore } from '@tsbuild/oci-layout';
import { upperToChanges } from '../layers/upperToChanges.js';
import type { StoredContainer } from './containerStore.js';
import { Snapshotter } from './snapshotter.js';

export type DiffKind = 'A' | 'C' | 'D';
export interface DiffLine {
  kind: DiffKind;
  /** Absolute path inside the container. */
  path: string;
}

/** The container's overlay upper directory: everything it changed. */
export function upperDir(c: StoredContainer): string {
  return join(c.paths.rootfsDir, 'upper');
}

/**
 * Mount points from the container's runtime spec, root-relative. runc creates
 * a file or directory in the upper directory to mount over; like docker's init
 * layer, those are not the container's changes.
 */
export async function mountPoints(c: StoredContainer): Promise<Set<string>> {
  const spec = JSON.parse(await readFile(c.paths.spec, 'utf8')) as { mounts?: { destination: string }[] };
  return new Set((spec.mounts ?? []).map((m) => m.destination.replace(/^\/+|\/+$/g, '')).filter(Boolean));
}

/** The container's changes as layer changes (what `commit` stores), mount points left out. */
export async function containerChanges(c: StoredContainer): Promise<LayerChange[]> {
  return upperToChanges(upperDir(c), { exclude: await mountPoints(c) });
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dir: string): boolean {
  return fsNative().lgetxattr(fsPath(dir), 'trusted.overlay.opaque')?.toString() === 'y';
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(fsPath(path));
  } catch (e) {
    // The one error expected: nothing at this path in this layer.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * What the image (its snapshot directories, top first) has at `rel`, as
 * overlay would show it: a whiteout hides it, a non-directory hides what is
 * below it, an opaque directory hides the layers beneath. Components are
 * checked one by one with lstat, so no symlink in the image is followed.
 */
export async function imageEntry(lowersTopFirst: string[], rel: string): Promise<Stats | undefined> {
  const parts = rel.split('/');
  for (const lower of lowersTopFirst) {
    let dir = lower;
    let hidesBelow = false;
    let found: Stats | undefined;
    for (let i = 0; i < parts.length; i++) {
      const st = await lstatIfExists(join(dir, parts[i]!));
      if (!st) break;
      if (isWhiteout(st)) return undefined;
      if (i === parts.length - 1) {
        found = st;
        break;
      }
      if (!st.isDirectory()) return undefined;
      dir = join(dir, parts[i]!);
      if (isOpaque(dir)) hidesBelow = true;
    }
    if (found) return found;
    if (hidesBelow) return undefined;
  }
  return undefined;
}

export async function imageLowers(store: LocalStore, c: StoredContainer): Promise<string[]> {
  const image = await store.layout.readImage(c.record.image.descriptor);
  return (await new Snapshotter(store).prepare(image.layers)).reverse();
}

/**
 * `docker diff`: A for what the image did not have, C for what it had, D for
 * a whiteout, sorted by path. A directory the image had whose only changes
 * were mount points runc created (so nothing but its mtime differs) is left
 * out, as docker's init layer keeps those out of sight.
 */
export async function containerDiff(store: LocalStore, c: StoredContainer): Promise<DiffLine[]> {
  const upper = upperDir(c);
  const lowers = await imageLowers(store, c);
  const changes = await containerChanges(c);
  const opaque = changes.filter((ch) => ch.kind === 'opaque').map((ch) => ch.path);
  const hiddenBelow = (path: string) => opaque.some((dir) => path.startsWith(`${dir}/`));
  const lines: DiffLine[] = [];
  const dirs = new Map<string, Stats>();
  for (const ch of changes) {
    if (ch.kind === 'opaque') continue;
    if (ch.kind === 'whiteout') {
      lines.push({ kind: 'D', path: `/${ch.path}` });
      continue;
    }
    const before = hiddenBelow(ch.entry.path) ? undefined : await imageEntry(lowers, ch.entry.path);
    if (before && ch.entry.type === 'directory' && before.isDirectory()) dirs.set(ch.entry.path, before);
    lines.push({ kind: before ? 'C' : 'A', path: `/${ch.entry.path}` });
  }
  lines.sort((a, b) => Buffer.compare(encodeName(a.path), encodeName(b.path)));
  // Children sort after their parent: walking backwards sees every child first.
  const withKeptChild = new Set<string>();
  const kept: DiffLine[] = [];
  for (const line of lines.reverse()) {
    const rel = line.path.slice(1);
    const before = dirs.get(rel);
    if (before && !withKeptChild.has(rel) && !opaque.includes(rel)) {
      const now = await lstat(fsPath(join(upper, rel)));
      if ((now.mode & 0o7777) === (before.mode & 0o7777) && now.uid === before.uid && now.gid === before.gid) continue;
    }
    kept.push(line);
    withKeptChild.add(posix.dirname(rel));
  }
  return kept.reverse();
}
