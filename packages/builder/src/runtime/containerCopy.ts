import { closeSync, constants, openSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix, relative, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  applyChanges,
  createLayer,
  fsNative,
  fsPath,
  readLayer,
  resolveInRoot,
  type LayerChange,
  type LayerEntry,
  type LocalStore,
} from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';
import { isMounted, mountContainerRootfs, unmountContainerRootfs } from './containerRootfs.js';
import type { StoredContainer } from './containerStore.js';
import { readTreeBeneath, statBeneath, type TreeOptions } from './treeBeneath.js';

/** One side of `cp`: a path in a container, a host path, or `-` (a tar stream on stdin or stdout). */
export type CopyEndpoint = { kind: 'container'; container: string; path: string } | { kind: 'host'; path: string } | { kind: 'stream' };

/** docker's rule: a host path is `-`, or starts with `/` or `.`, or has no colon; anything else is CONTAINER:PATH. */
export function parseCopyEndpoint(arg: string): CopyEndpoint {
  if (arg === '-') return { kind: 'stream' };
  const colon = arg.indexOf(':');
  if (arg.startsWith('/') || arg.startsWith('.') || colon < 0) return { kind: 'host', path: arg };
  if (colon === 0) throw new ContainerError('invalid-option', `"${arg}": no container name before the colon`);
  return { kind: 'container', container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

export interface CopyOptions {
  /** -a: keep the owners the files have; otherwise they belong to the one who receives them (root in a container, this user on the host). */
  archive: boolean;
  /** -L: follow a symlink given as the source. */
  followLink: boolean;
}

/** The container's merged view, mounted for the copy when it is not already (a stopped container); the upper directory takes any writes. */
async function withContainerRoot<T>(store: LocalStore, c: StoredContainer, use: (root: string) => Promise<T>): Promise<T> {
  const mounted = await isMounted(c.paths.merged);
  const root = await mountContainerRootfs(store, c.record, c.paths);
  try {
    return await use(root);
  } finally {
    if (!mounted) await unmountContainerRootfs(c.paths);
  }
}

/** A source: the directory that holds it (a descriptor) and its name there. */
interface Source {
  dirFd: number;
  name: string;
  stats: Stats;
  /** Given as `DIR/.`: the directory's contents, not the directory. */
  contentsOnly: boolean;
  label: string;
}

function endsWithSlash(path: string): boolean {
  return path.endsWith('/');
}

function contentsOnly(path: string): boolean {
  return path === '.' || path.endsWith('/.');
}

function openBeneath(rootFd: number, rel: string, what: string): number {
  try {
    return fsNative().openDirectoryBeneath(rootFd, fsPath(rel));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ContainerError('not-found', `${what}: no such directory`);
    if (code === 'ENOTDIR') throw new ContainerError('invalid-option', `${what}: not a directory`);
    // A symlink where the resolved path had none: the tree changed while we looked; never follow it.
    if (code === 'ELOOP' || code === 'EXDEV') throw new ContainerError('invalid-option', `${what}: the path changed while it was resolved`);
    throw e;
  }
}

/** `path` inside the container root as a root-relative path, symlinks resolved inside the root (the last one only when `followFinal`). */
async function inRoot(root: string, path: string, followFinal: boolean): Promise<string> {
  return relative(root, await resolveInRoot(root, path, { followFinal }));
}

async function containerSource(rootFd: number, root: string, path: string, opts: CopyOptions, label: string): Promise<Source> {
  const rel = await inRoot(root, path, opts.followLink || endsWithSlash(path) || contentsOnly(path));
  const name = posix.basename(rel);
  const dirFd = openBeneath(rootFd, posix.dirname(rel) === '.' ? '' : posix.dirname(rel), label);
  const stats = rel === '' ? await statBeneath(rootFd, '.') : await statBeneath(dirFd, name);
  if (!stats) {
    closeSync(dirFd);
    throw new ContainerError('not-found', `could not find the file ${path} in container ${label}`);
  }
  return { dirFd, name: rel === '' ? '.' : name, stats, contentsOnly: contentsOnly(path) || rel === '', label: `${label}:${path}` };
}

/** A host path's stat, following links (the host is the user's own); undefined when nothing is there. */
async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(fsPath(path));
  } catch (e) {
    // The one error expected: nothing there.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function hostSource(path: string, opts: CopyOptions): Promise<Source> {
  const abs = resolve(path);
  const follow = opts.followLink || endsWithSlash(path) || contentsOnly(path);
  let dirFd: number;
  try {
    dirFd = openSync(fsPath(posix.dirname(abs)), constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    // The one error expected: the parent is missing.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ContainerError('not-found', `${path}: no such file or directory`);
    throw e;
  }
  const name = posix.basename(abs);
  const stats = follow ? await statIfExists(abs) : await statBeneath(dirFd, name);
  if (!stats) {
    closeSync(dirFd);
    throw new ContainerError('not-found', `${path}: no such file or directory`);
  }
  return { dirFd, name, stats, contentsOnly: contentsOnly(path), label: path };
}

function checkSource(src: Source, path: string): void {
  if ((endsWithSlash(path) || contentsOnly(path)) && !src.stats.isDirectory()) throw new ContainerError('invalid-option', `${src.label}: not a directory`);
}

/** Where the source lands: a directory that exists (a descriptor's path) and the name the source takes in it ('' for its contents). */
interface Target {
  dir: string;
  name: string;
}

/** docker cp's rules for the destination, given what is there (undefined: nothing) and whether its parent exists. */
function targetFor(src: Source, dest: string, there: Stats | undefined, destDir: string, destParent: string): Target {
  if (there?.isDirectory()) return { dir: destDir, name: src.contentsOnly ? '' : src.name };
  if (there) {
    if (src.stats.isDirectory()) throw new ContainerError('invalid-option', `cannot copy a directory to a file: ${dest}`);
    return { dir: destParent, name: posix.basename(destDir) };
  }
  if (endsWithSlash(dest) && !src.stats.isDirectory()) throw new ContainerError('not-found', `${dest}: the destination directory must exist`);
  return { dir: destParent, name: posix.basename(destDir) };
}

function entriesOf(src: Source, prefix: string, opts: TreeOptions): AsyncGenerator<LayerEntry> {
  return readTreeBeneath(src.dirFd, src.name, prefix, opts);
}

async function* asChanges(entries: AsyncIterable<LayerEntry>): AsyncGenerator<LayerChange> {
  for await (const entry of entries) yield { kind: 'entry', entry };
}

/** `name` inside the root-relative directory `dir` ('' is the root; name '' is the directory itself). */
function underDir(dir: string, name: string): string {
  return dir === '' ? name : name === '' ? dir : `${dir}/${name}`;
}

/** `cp CTR:PATH DEST|-`: the container's file or tree to the host, or as a tar stream to `out`. */
export async function copyFromContainer(store: LocalStore, c: StoredContainer, path: string, dest: CopyEndpoint, out: Writable, opts: CopyOptions): Promise<void> {
  await withContainerRoot(store, c, async (root) => {
    const rootFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const src = await containerSource(rootFd, root, path, opts, c.record.name);
      try {
        checkSource(src, path);
        const owner = opts.archive ? {} : { owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } };
        if (dest.kind === 'stream') {
          const name = src.contentsOnly ? '.' : src.name;
          await pipeline(createLayer(asChanges(entriesOf(src, name, owner)), { compression: 'none' }).stream, out, { end: false });
          return;
        }
        if (dest.kind !== 'host') throw new ContainerError('invalid-option', 'copying between containers is not supported');
        const abs = resolve(dest.path);
        const target = targetFor(src, dest.path, await statIfExists(abs), abs, posix.dirname(abs));
        if (!(await statIfExists(target.dir))?.isDirectory()) throw new ContainerError('not-found', `${dest.path}: the parent directory does not exist`);
        await applyChanges(target.dir, asChanges(entriesOf(src, target.name, owner)));
      } finally {
        closeSync(src.dirFd);
      }
    } finally {
      closeSync(rootFd);
    }
  });
}

/**
 * A tar stream's changes placed under `dir`. Whiteouts are refused: a tar
 * given to `cp` holds files, not layer deletions.
 */
async function* streamedUnder(input: Readable, dir: string, owner: TreeOptions['owner']): AsyncGenerator<LayerChange> {
  for await (const change of readLayer(input)) {
    if (change.kind !== 'entry') throw new ContainerError('invalid-option', `the tar stream holds a whiteout (${change.path}); cp copies files only`);
    const entry = change.entry;
    const linkname = entry.type === 'hardlink' && entry.linkname !== undefined ? { linkname: underDir(dir, entry.linkname) } : {};
    yield { kind: 'entry', entry: { ...entry, ...(owner ?? {}), path: underDir(dir, entry.path), ...linkname } };
  }
}

/** `cp SRC|- CTR:PATH`: a host file or tree, or a tar stream from `input`, into the container, through applyChanges (no container symlink leads out). */
export async function copyIntoContainer(store: LocalStore, c: StoredContainer, source: CopyEndpoint, path: string, input: Readable, opts: CopyOptions): Promise<void> {
  await withContainerRoot(store, c, async (root) => {
    const rootFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const rel = await inRoot(root, path, true);
      const label = `${c.record.name}:${path}`;
      const owner = opts.archive ? undefined : { uid: 0, gid: 0 };
      const parentRel = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
      const parentFd = openBeneath(rootFd, parentRel, label);
      let there: Stats | undefined;
      try {
        there = rel === '' ? await statBeneath(rootFd, '.') : await statBeneath(parentFd, posix.basename(rel));
      } finally {
        closeSync(parentFd);
      }
      if (source.kind === 'stream') {
        if (!there?.isDirectory()) throw new ContainerError('invalid-option', `${label}: the destination must be a directory`);
        await applyChanges(root, streamedUnder(input, rel, owner), { throughOverlayMount: true });
        return;
      }
      if (source.kind !== 'host') throw new ContainerError('invalid-option', 'copying between containers is not supported');
      const src = await hostSource(source.path, opts);
      try {
        checkSource(src, source.path);
        const target = targetFor(src, path, there, rel, parentRel);
        const prefix = underDir(target.dir, target.name);
        if (prefix === '' && !src.stats.isDirectory()) throw new ContainerError('invalid-option', `${label}: cannot replace the container's root`);
        await applyChanges(root, asChanges(entriesOf(src, prefix, owner ? { owner } : {})), { throughOverlayMount: true });
      } finally {
        closeSync(src.dirFd);
      }
    } finally {
      closeSync(rootFd);
    }
  });
}
