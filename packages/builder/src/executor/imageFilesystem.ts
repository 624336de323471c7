import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { EntryHeader, LayerChange, LayerEntry } from '@tsbuild/oci-layout';

/** Files whose content the builder needs later (user and group names for --chown and USER). */
const REMEMBERED_FILES = new Set(['etc/passwd', 'etc/group']);
const MAX_REMEMBERED_BYTES = 1024 * 1024;
const MAX_SYMLINK_HOPS = 40;

type ContentSource = { kind: 'bytes'; data: Buffer } | { kind: 'file'; path: string };

interface Node extends EntryHeader {
  remembered?: ContentSource;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Strips the leading `/` and normalises, giving the root-relative key ("" is the root). */
export function toKey(absolute: string): string {
  const normal = posix.normalize(`/${absolute}`);
  return normal === '/' ? '' : normal.replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * What the builder needs of an image's flattened filesystem as the build goes
 * on: its directories and symlinks with their headers (to resolve paths and
 * restate parents) and the few files it must read. Other files are not kept:
 * nothing asks about them, and a tree of a million files would otherwise be
 * a million headers in memory.
 */
export class ImageFilesystem {
  private readonly nodes = new Map<string, Node>();
  /** How many of the image's layers this view includes; the rest are read in when needed. */
  applied = 0;

  /** Starts from another stage's tree (FROM an earlier stage). */
  copyFrom(other: ImageFilesystem): void {
    for (const [key, node] of other.nodes) this.nodes.set(key, node);
    this.applied = other.applied;
  }

  get(key: string): EntryHeader | undefined {
    return this.nodes.get(key);
  }

  /** Applies one layer's changes in order, as an unpacker would. */
  async applyLayer(changes: AsyncIterable<LayerChange> | Iterable<LayerChange>): Promise<void> {
    const addedInLayer = new Set<string>();
    const opaque: string[] = [];
    for await (const change of changes) {
      if (change.kind === 'whiteout') {
        this.removeTree(change.path);
        continue;
      }
      if (change.kind === 'opaque') {
        opaque.push(change.path);
        continue;
      }
      const { content, open, read: _read, ...header } = change.entry;
      const node: Node = header;
      const remember = REMEMBERED_FILES.has(header.path) && header.size <= MAX_REMEMBERED_BYTES;
      if (remember && (content || open)) {
        node.remembered = { kind: 'bytes', data: await collect(content ?? (await open!())) };
      } else {
        content?.resume();
      }
      if (this.put(node)) addedInLayer.add(header.path);
    }
    // An opaque marker hides what lower layers had below the directory, wherever it sits in the tar.
    for (const dir of opaque) {
      for (const key of this.descendants(dir)) if (!addedInLayer.has(key)) this.nodes.delete(key);
    }
  }

  /** Records an entry the builder is about to write (its header; how its content is read is not kept); `sourceFile` is where its content can be read. */
  record(entry: LayerEntry, sourceFile?: string): void {
    const rememberedFrom = sourceFile !== undefined && REMEMBERED_FILES.has(entry.path) ? sourceFile : undefined;
    // Most entries of a big COPY are plain files, which the view does not keep: no copy of their header.
    if (entry.type !== 'directory' && entry.type !== 'symlink' && rememberedFrom === undefined) {
      this.forget(entry.path);
      return;
    }
    const { content: _content, open: _open, read: _read, ...header } = entry;
    const node: Node = header;
    if (rememberedFrom !== undefined) node.remembered = { kind: 'file', path: rememberedFrom };
    this.put(node);
  }

  /** What was at `path` is replaced by something the view does not keep. */
  private forget(path: string): void {
    if (this.nodes.get(path)?.type === 'directory') this.removeTree(path);
    this.nodes.delete(path);
  }

  /** Puts a node in place of whatever was at its path; whether it is one the view keeps. */
  private put(node: Node): boolean {
    const existing = this.nodes.get(node.path);
    if (existing?.type === 'directory' && node.type !== 'directory') this.removeTree(node.path);
    if (node.type === 'directory' || node.type === 'symlink' || node.remembered) {
      this.nodes.set(node.path, node);
      return true;
    }
    this.forget(node.path);
    return false;
  }

  private *descendants(dir: string): Generator<string> {
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const key of this.nodes.keys()) if (key.startsWith(prefix) && key !== dir) yield key;
  }

  private removeTree(key: string): void {
    for (const child of [...this.descendants(key)]) this.nodes.delete(child);
    this.nodes.delete(key);
  }

  /**
   * Resolves an absolute path the way the kernel would inside the image:
   * symlinks in every component are followed (relative to the image root, so
   * nothing resolves outside it); the last one only when `followFinal`.
   * Returns the root-relative key, which may not exist yet.
   */
  resolve(absolute: string, followFinal: boolean): string {
    let pending = toKey(absolute).split('/').filter(Boolean);
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const key = [...resolved, part].join('/');
      const node = this.nodes.get(key);
      const isLast = pending.length === 0;
      if (node?.type === 'symlink' && (!isLast || followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new Error(`too many levels of symbolic links resolving ${absolute}`);
        const target = node.linkname ?? '';
        if (target.startsWith('/')) resolved.length = 0;
        pending = [...target.split('/').filter(Boolean), ...pending];
        continue;
      }
      resolved.push(part);
    }
    return resolved.join('/');
  }

  isDirectory(absolute: string): boolean {
    const key = this.resolve(absolute, true);
    return key === '' || this.nodes.get(key)?.type === 'directory';
  }

  /** Content of a file the builder remembered (see REMEMBERED_FILES), or undefined. */
  async readRemembered(absolute: string): Promise<Buffer | undefined> {
    const node = this.nodes.get(this.resolve(absolute, true));
    if (!node?.remembered) return undefined;
    if (node.remembered.kind === 'bytes') return node.remembered.data;
    // The file was a regular file when it was recorded; a symlink put in its place since is not followed.
    const handle = await open(node.remembered.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }
}
