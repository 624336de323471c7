import { constants, createReadStream } from 'node:fs';
import { readSmallFile } from '../context/readSmallFile.js';
import { lstat, mkdtemp, open as openFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer, compareLayerPaths, fsPath, type LayerEntry } from '@tsbuild/oci-layout';
import { mergeSortedRuns, type RunItem } from '../layers/mergeSortedRuns.js';
import { deviceNumbers } from '../layers/deviceNumbers.js';
import { readArchiveRoot } from './archiveRoot.js';
import type { BuildContext, ContextEntry, CopySource } from '../context/buildContext.js';
import { linkTarget, walkTree, type LayerReads } from '../context/treeWalk.js';
import type { WrittenSources } from '../context/sourcesDigest.js';
import type { RemoteFile } from './remoteSource.js';
import type { ImageFilesystem } from './imageFilesystem.js';

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopyRequest {
  isAdd: boolean;
  /** Local sources (from the context, or the `--from` stage or image). */
  sources: CopySource[];
  heredocs: { name: string; content: string }[];
  /** Absolute destination; a trailing `/` means "a directory". */
  dest: string;
  /** `--chown`, resolved; otherwise files from the context get 0:0 and files from a stage keep theirs, as BuildKit does. */
  owner?: Owner;
  keepOwners?: boolean;
  /** `ADD https://...` sources, already downloaded. */
  remote?: RemoteFile[];
  chmod?: number;
}

export interface CopyTiming {
  /** Mtime for directories the step creates. */
  now: number;
  /** SOURCE_DATE_EPOCH: no mtime in the layer is later than this. */
  clampTo?: number;
  /** Where ADDed archives are unpacked while their layer is written. */
  scratchDir: string;
}

const DIR_MODE = 0o755;

/** Docker's rule: a gzip/bzip2/xz/plain tar given to ADD is unpacked; we detect the first by content. */
async function looksLikeTar(path: string): Promise<boolean> {
  const fh = await openFile(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true;
    return bytesRead === 512 && head.toString('latin1', 257, 262) === 'ustar';
  } finally {
    await fh.close();
  }
}

/** What a COPY's layer reports the context files it reads to (see CopyPlanner). */
export interface CopyReads extends LayerReads {
  written?: WrittenSources;
}

/**
 * Works out the entries one COPY or ADD writes, with Docker's destination
 * rules, as a stream in layer order for the layer writer. A copied directory
 * is walked in that order while the layer is written, so planning holds the
 * few entries named one by one, never a tree's; contents are opened lazily.
 * The image filesystem view takes each entry as it is written.
 */
export class CopyPlanner {
  /** Entries named one by one (destinations, their parents, single files), by path; a later one replaces an earlier. */
  private readonly entries = new Map<string, RunItem<LayerEntry>>();
  /** Trees walked while the layer is written. */
  private readonly walks: Iterable<RunItem<LayerEntry>>[] = [];
  /** When an entry or walk was named: where two write one path, the later wins, as if written in turn. */
  private rank = 0;
  private readonly cleanups: (() => Promise<unknown>)[] = [];
  /** First path written for each multiply-linked inode, so its other names become hard links. */
  private readonly inodes = new Map<string, string>();
  /** The sources hash being worked out from the layer's entries (a COPY of one context directory). */
  private recording?: WrittenSources;

  constructor(
    private readonly fs: ImageFilesystem,
    private readonly context: BuildContext,
    private readonly timing: CopyTiming,
    /**
     * What the context files read for the layer are reported to (`learning`: a layer written before its cache key;
     * `agreement`: one written after it), and `written`, which takes the paths the layer copies, for its sources hash.
     */
    private readonly reads: CopyReads = {},
  ) {}

  private mtime(value: number): number {
    const t = Math.floor(value);
    return this.timing.clampTo !== undefined ? Math.min(t, this.timing.clampTo) : t;
  }

  async plan(req: CopyRequest): Promise<Iterable<LayerEntry>> {
    const matches: ContextEntry[] = [];
    for (const source of req.sources) matches.push(...(await this.context.match(source.path, source.exclude)));
    const count = matches.length + req.heredocs.length + (req.remote?.length ?? 0);
    const destIsDir = req.dest.endsWith('/') || this.fs.isDirectory(req.dest) || count > 1;
    if (req.sources.length + req.heredocs.length + (req.remote?.length ?? 0) > 1 && !req.dest.endsWith('/') && !this.fs.isDirectory(req.dest)) {
      throw new Error(`when using ${req.isAdd ? 'ADD' : 'COPY'} with more than one source file, the destination must be a directory and end with a /`);
    }
    const destKey = this.fs.resolve(req.dest, destIsDir);
    this.recordSources(req, matches);
    for (const match of matches) {
      if (match.stats.isDirectory()) {
        this.ensureDir(destKey, req, match);
        this.addWalk(destKey, match.rel, this.context.walk(match, this.reads), req, req.keepOwners);
      } else if (req.isAdd && match.stats.isFile() && (await looksLikeTar(match.abs))) {
        this.ensureDir(destKey, req);
        await this.addArchive(destKey, match.abs, req);
      } else {
        const target = destIsDir ? posix.join(destKey, posix.basename(match.rel)) : destKey;
        if (destIsDir) this.ensureDir(destKey, req);
        this.addContextEntry(target, match, req, req.keepOwners);
      }
    }
    for (const file of req.remote ?? []) {
      const target = destIsDir ? posix.join(destKey, file.name) : destKey;
      if (destIsDir) this.ensureDir(destKey, req);
      const { size } = await lstat(file.path);
      // Docker gives downloaded files mode 0600.
      this.add({
        path: target, type: 'file', mode: req.chmod ?? 0o600, uid: req.owner?.uid ?? 0, gid: req.owner?.gid ?? 0,
        mtime: this.mtime(file.mtime ?? this.timing.now), size, open: () => createReadStream(file.path),
      });
    }
    for (const doc of req.heredocs) {
      const target = destIsDir ? posix.join(destKey, doc.name) : destKey;
      if (destIsDir) this.ensureDir(destKey, req);
      const data = Buffer.from(doc.content, 'utf8');
      this.add({
        path: target, type: 'file', mode: req.chmod ?? 0o644, uid: req.owner?.uid ?? 0, gid: req.owner?.gid ?? 0,
        mtime: this.mtime(this.timing.now), size: data.length, open: () => Readable.from([data]),
      });
    }
    return this.planned();
  }

  /**
   * Only one context directory's walk is recorded for its sources hash: the
   * hash goes source by source, the layer merges them. Other COPYs get theirs
   * from a walk of the context (WrittenSources gives none).
   */
  private recordSources(req: CopyRequest, matches: ContextEntry[]): void {
    // A source named on its own is read by path when the layer is written: nothing to compare with the key's walk.
    if (this.reads.agreement && matches.some((match) => !match.stats.isDirectory())) this.reads.agreement.unchecked = true;
    const { written } = this.reads;
    if (!written) return;
    const only = matches.length === 1 && req.sources.length === 1 ? matches[0]! : undefined;
    if (!only?.stats.isDirectory()) {
      written.unknown();
      return;
    }
    this.recording = written;
    this.recording.add(only.rel, only.stats.mode, '');
  }

  /** WORKDIR: the directory (0755) and any missing parents, as a layer's entries. */
  mkdir(path: string, owner?: Owner): Iterable<LayerEntry> {
    const req: CopyRequest = { isAdd: false, sources: [], heredocs: [], dest: path, ...(owner ? { owner } : {}) };
    this.ensureDir(this.fs.resolve(path, true), req);
    return this.planned();
  }

  /**
   * Everything planned, in layer order, read once by the layer writer: the
   * named entries merged with the walks. Entries are made (hard links
   * settled, the view updated) as they are taken, so the first name of an
   * inode in layer order is the one written as a file.
   */
  private planned(): Iterable<LayerEntry> {
    const named = [...this.entries.values()].sort((a, b) => compareLayerPaths(a.key, b.key));
    const runs = [named, ...this.walks];
    this.entries.clear();
    this.walks.length = 0;
    return { [Symbol.iterator]: () => mergeSortedRuns(runs) };
  }

  /** Parent directories must exist in the layer; missing ones are created, existing ones restated unchanged. */
  private ensureParents(key: string, req: CopyRequest): void {
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.entries.has(parent)) continue;
      const existing = this.fs.get(parent);
      if (existing?.type === 'directory') {
        this.add({ ...existing });
      } else {
        this.add(this.newDir(parent, req));
      }
    }
  }

  private newDir(key: string, req: CopyRequest, like?: ContextEntry): LayerEntry {
    return {
      path: key, type: 'directory', mode: req.chmod ?? (like ? like.stats.mode & 0o7777 : DIR_MODE),
      uid: req.owner?.uid ?? 0, gid: req.owner?.gid ?? 0,
      mtime: this.mtime(like ? like.stats.mtimeMs / 1000 : this.timing.now), size: 0,
    };
  }

  private ensureDir(key: string, req: CopyRequest, like?: ContextEntry): void {
    if (key === '') return;
    this.ensureParents(key, req);
    const existing = this.fs.get(key);
    if (existing?.type === 'directory' && !like) {
      if (!this.entries.has(key)) this.add({ ...existing });
      return;
    }
    this.add(this.newDir(key, req, like));
  }

  /** A tree below `destKey`: `children` (in layer order, paths relative to `fromRel`'s tree) come out as the layer is written. */
  private addWalk(destKey: string, fromRel: string, children: Iterable<ContextEntry>, req: CopyRequest, keepOwner = false): void {
    const rank = this.rank++;
    this.walks.push({ [Symbol.iterator]: () => this.walkItems(destKey, fromRel, children, req, keepOwner, rank) });
  }

  private *walkItems(destKey: string, fromRel: string, children: Iterable<ContextEntry>, req: CopyRequest, keepOwner: boolean, rank: number): Generator<RunItem<LayerEntry>> {
    const prefix = destKey === '' ? '' : `${destKey}/`;
    const cut = fromRel === '' ? 0 : fromRel.length + 1;
    for (const child of children) {
      const key = prefix + child.rel.slice(cut);
      // A directory .dockerignore (or --exclude, or --parents) leaves out but for what an exception re-includes below
      // it comes with its own mode and times, as BuildKit copies such parents.
      yield { key, rank, make: () => this.contextEntry(key, child, req, keepOwner) };
    }
  }

  private addContextEntry(key: string, source: ContextEntry, req: CopyRequest, keepOwner = false): void {
    if (key === '') return;
    this.ensureParents(key, req);
    this.entries.set(key, { key, rank: this.rank++, make: () => this.contextEntry(key, source, req, keepOwner) });
  }

  private contextEntry(key: string, source: ContextEntry, req: CopyRequest, keepOwner: boolean): LayerEntry {
    const st = source.stats;
    const base = {
      path: key,
      uid: req.owner?.uid ?? (keepOwner ? st.uid : 0),
      gid: req.owner?.gid ?? (keepOwner ? st.gid : 0),
      mtime: this.mtime(st.mtimeMs / 1000),
      size: 0,
      mode: req.chmod ?? st.mode & 0o7777,
    };
    if (st.isDirectory()) {
      this.recording?.add(source.rel, st.mode, '');
      return this.recorded({ ...base, type: 'directory' });
    }
    if (st.isSymbolicLink()) {
      // Link targets are data; they are stored as written in the context.
      const linkname = source.linkTarget ?? linkTarget(source.abs);
      this.recording?.add(source.rel, st.mode, linkname);
      return this.recorded({ ...base, type: 'symlink', mode: 0o777, linkname });
    }
    if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.inodes.get(inode) : undefined;
      if (first !== undefined) {
        this.recording?.unknown();
        return this.recorded({ ...base, type: 'hardlink', linkname: first });
      }
      if (st.nlink > 1) this.inodes.set(inode, key);
      // Opened when the layer is written, by path: never through a symlink that took the file's place since the walk.
      const { abs } = source;
      const { size } = st;
      const open = async () => (await openFile(fsPath(abs), constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream();
      const read = this.recordedRead(source) ?? (() => readSmallFile(abs, size));
      // Built field by field, not spread from `base`: a tree of small files makes one per file.
      const file: LayerEntry = { path: key, uid: base.uid, gid: base.gid, mtime: base.mtime, size, mode: base.mode, type: 'file', open, read };
      return this.recorded(file, abs);
    }
    if (keepOwner && (st.isCharacterDevice() || st.isBlockDevice())) {
      return this.recorded({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', ...deviceNumbers(st.rdev) });
    }
    if (keepOwner && st.isFIFO()) return this.recorded({ ...base, type: 'fifo' });
    throw new Error(`cannot copy "${source.rel}": not a regular file, directory or symlink`);
  }

  /** A walked file's read, which also gives the recorded sources hash its content hash (a file never read leaves it without one). */
  private recordedRead(source: ContextEntry): (() => Buffer | Promise<Buffer>) | undefined {
    const { read } = source;
    if (!this.recording) return read;
    const hashed = this.recording.add(source.rel, source.stats.mode, undefined);
    if (!read) return undefined;
    return async () => {
      const content = await read();
      if (source.contentHash !== undefined) hashed(source.contentHash);
      return content;
    };
  }

  /**
   * ADD of a local archive: it is unpacked (safely, confined to a scratch
   * directory) and its tree copied like a directory, keeping the archive's
   * owners unless --chown says otherwise; its `./` member describes the
   * destination directory itself.
   */
  private async addArchive(destKey: string, archive: string, req: CopyRequest): Promise<void> {
    const scratch = await mkdtemp(join(this.timing.scratchDir, 'add-'));
    this.onCleanup(() => rm(scratch, { recursive: true, force: true }));
    await applyLayer(scratch, createReadStream(archive));
    const archiveRoot = destKey === '' ? undefined : await readArchiveRoot(archive);
    if (archiveRoot) {
      this.add({
        path: destKey, type: 'directory', mode: req.chmod ?? archiveRoot.mode & 0o7777,
        uid: req.owner?.uid ?? archiveRoot.uid, gid: req.owner?.gid ?? archiveRoot.gid, mtime: this.mtime(archiveRoot.mtime), size: 0,
      });
    }
    const root: ContextEntry = { rel: '', abs: scratch, stats: await lstat(scratch) };
    this.addWalk(destKey, '', walkTree(root), req, true);
  }

  /** Something the planned entries still read from (a scratch dir, a mounted stage), released after the layer is written. */
  onCleanup(release: () => Promise<unknown>): void {
    this.cleanups.push(release);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.cleanups.splice(0).map((release) => release()));
  }

  /** Plans an entry made up front. */
  private add(entry: LayerEntry): void {
    this.entries.set(entry.path, { key: entry.path, rank: this.rank++, make: () => this.recorded(entry) });
  }

  /** The view learns of an entry as it is written; `sourceFile` is where its content can be read. */
  private recorded(entry: LayerEntry, sourceFile?: string): LayerEntry {
    this.fs.record(entry, sourceFile);
    return entry;
  }
}
