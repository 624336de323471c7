import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, sep } from 'node:path';
import {
  awaitedElsewhere, decodeName, FAILURE_EXIT_CODE, fsPath, listDirectoryAsync,
  PathResolutionError, resolveInRoot, statIfExists, ToolError, type DirectoryListing, type EntryStats,
} from '@tsbuild/oci-layout';
import { componentMatcher, hasGlob } from './globPattern.js';
import { changedSince, type ContextHashStore, type DirectoryHashes } from './contextHashStore.js';
import { FileReadAhead } from './fileReadAhead.js';
import { KeptListings } from './keptListings.js';
import { SMALL_FILE_MAX } from './readSmallFile.js';
import { SourcesDigest } from './sourcesDigest.js';
import { inNameOrder, linkTarget, walkTree, type LayerReads, type ListedEntry, type WalkDecision } from './treeWalk.js';

/** What a .dockerignore says about a context path. */
export interface ContextFilter {
  ignores(relPath: string): boolean;
  /** Whether an exception (`!pattern`) could re-include something below an ignored directory. */
  couldMatchInside(relDir: string): boolean;
}

export interface ContextEntry {
  /** Context-relative path with `/` separators ("" is the context root). */
  rel: string;
  abs: string;
  /** lstat of the path, except for a source named directly, whose symlinks are followed as Docker does. */
  stats: EntryStats;
  /** A small regular file's content, read ahead by the walk (walkTree). */
  read?: () => Buffer | Promise<Buffer>;
  /** The content hash of what `read` gave, once it has (a walk with HashLearning). */
  contentHash?: string;
  /** A symlink's target, as a layer walk read it (once: the layer and its checks see the same). */
  linkTarget?: string;
  /** A source's COPY --exclude patterns, matched below it against paths relative to it (set by `match`). */
  exclude?: ContextFilter;
}

/** A COPY/ADD source: a path in the context (may hold wildcards), and what its --exclude (or --parents) leaves out below it (see match). */
export interface CopySource {
  path: string;
  exclude?: ContextFilter;
}

/** Patterns that leave paths below `base` out, matched against the paths relative to `base`. */
interface Exclusion {
  filter: ContextFilter;
  base: string;
}

/** What visitTree carries from directory to directory of one visitSources. */
interface WalkState {
  unseenStops: boolean;
  seen?: LatestChange | undefined;
  /** The --exclude patterns of the source being walked. */
  exclusion?: Exclusion | undefined;
  /** Keeps a listing for the layer walk after this one (KeptListings.begin). */
  keep: (dir: string, listing: DirectoryListing) => void;
  /**
   * Directories entered only for what an exception re-includes below them,
   * outermost first, not visited yet. The layer holds one (with its own
   * mode) only if something below it is kept: it is visited just before the
   * first kept path below it.
   */
  implied: { rel: string; mode: number }[];
}

/** The build context directory as COPY/ADD see it: .dockerignore applied, nothing outside reachable. */
export class BuildContext {
  /** The last key walk's listings, for the layer walk after it (see KeptListings). */
  private readonly kept = new KeptListings();

  private constructor(
    readonly dir: string,
    private readonly filter?: ContextFilter,
    /** An image's root filesystem: its symlinks resolve as if `dir` were `/`. */
    private readonly isImageRoot = false,
  ) {}

  static async open(dir: string, filter?: ContextFilter): Promise<BuildContext> {
    const st = await statIfExists(dir);
    if (!st?.isDirectory()) throw new ToolError('build-context', `build context "${dir}" is not a directory`, FAILURE_EXIT_CODE);
    return new BuildContext(await realpath(dir), filter);
  }

  /** Another stage's or image's filesystem as the source of `COPY --from`. */
  static imageRoot(dir: string): BuildContext {
    return new BuildContext(dir, undefined, true);
  }

  private excluded(rel: string): boolean {
    return rel !== '' && (this.filter?.ignores(rel) ?? false);
  }

  /** Normalises a source as Docker does: relative to the context root, `..` cannot climb out. */
  private static clean(source: string): string {
    return posix.normalize(`/${source}`).slice(1).replace(/\/+$/, '');
  }

  /**
   * The context paths a COPY/ADD source names: the path itself, or every
   * match of a wildcard pattern. Missing sources are an error naming the source.
   * `exclude` (COPY --exclude, as BuildKit matches it) leaves out a named file or
   * a wildcard's match by its path relative to the directory the wildcard is in,
   * and, below a directory that comes out, paths by their path relative to it.
   */
  async match(source: string, exclude?: ContextFilter): Promise<ContextEntry[]> {
    const rel = BuildContext.clean(source);
    if (!hasGlob(rel)) {
      const entry = await this.entryFollowingLinks(rel);
      if (!entry || this.excluded(rel)) {
        throw new ToolError('build-context', `"${source}" not found in the build context (or excluded by .dockerignore)`, FAILURE_EXIT_CODE);
      }
      if (!exclude) return [entry];
      if (!entry.stats.isDirectory() && exclude.ignores(posix.basename(rel))) return [];
      return [{ ...entry, exclude }];
    }
    let frontier = [''];
    for (const part of rel.split('/')) {
      const next: string[] = [];
      const matches = hasGlob(part) ? componentMatcher(part) : undefined;
      for (const dir of frontier) {
        if (!matches) {
          next.push(dir ? `${dir}/${part}` : part);
          continue;
        }
        const names = await namesIn(join(this.dir, dir));
        for (const name of names.sort()) if (matches(name)) next.push(dir ? `${dir}/${name}` : name);
      }
      frontier = next;
    }
    const found: ContextEntry[] = [];
    for (const candidate of frontier) {
      const entry = await this.entryFollowingLinks(candidate);
      if (entry && !this.excluded(candidate)) found.push(entry);
    }
    if (found.length === 0) throw new ToolError('build-context', `no source files were specified: "${source}" matches nothing in the build context`, FAILURE_EXIT_CODE);
    if (!exclude) return found;
    const parts = rel.split('/');
    const globDir = parts.slice(0, parts.findIndex((part) => hasGlob(part))).join('/');
    const cut = globDir === '' ? 0 : globDir.length + 1;
    return found.filter((entry) => !exclude.ignores(entry.rel.slice(cut))).map((entry) => ({ ...entry, exclude }));
  }

  /** A named source: symlinks are followed, but only to places inside the context. */
  private async entryFollowingLinks(rel: string): Promise<ContextEntry | undefined> {
    const abs = join(this.dir, rel);
    let real: string;
    try {
      real = this.isImageRoot ? await resolveInRoot(this.dir, rel, { followFinal: true }) : await realpath(abs);
      if (this.isImageRoot) await lstat(real);
    } catch (e) {
      // Nothing by that name: missing, under a non-directory, or a symlink loop.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || e instanceof PathResolutionError) return undefined;
      throw e;
    }
    const inside = relative(this.dir, real);
    if (inside.startsWith('..') || inside.startsWith(sep)) {
      throw new ToolError('build-context', `"${rel}" points outside the build context`, FAILURE_EXIT_CODE);
    }
    return { rel, abs: real, stats: await stat(real) };
  }

  /**
   * A content hash of what `sources` select (paths, types, modes, link
   * targets, file contents; not mtimes or owners), for the build cache.
   * Files are read only when `store` has no trustworthy record of their stat.
   * `also` sees every path hashed, as visitSources would show it.
   */
  async hashSources(sources: readonly CopySource[], store: ContextHashStore, also?: SourceVisitor, seen?: LatestChange): Promise<string> {
    return (await this.hashSourcesUnless(sources, store, false, also, seen))!;
  }

  /**
   * hashSources, or undefined when the first directory with files the walk
   * meets is one the store has never seen (a context not built before): its
   * files would all have to be read for the hash alone. Past a directory the
   * store knows, the walk goes on as hashSources' (a directory added to a
   * known context is read, as a changed file is).
   */
  hashSourcesIfSeen(sources: readonly CopySource[], store: ContextHashStore, also?: SourceVisitor): Promise<string | undefined> {
    return this.hashSourcesUnless(sources, store, true, also);
  }

  private async hashSourcesUnless(
    sources: readonly CopySource[], store: ContextHashStore, unseenStops: boolean, also?: SourceVisitor, seen?: LatestChange,
  ): Promise<string | undefined> {
    const digest = new SourcesDigest();
    const complete = await this.visitSources(sources, store, (source, rel, mode, content) => {
      digest.add(rel, mode, content);
      return also?.(source, rel, mode, content);
    }, unseenStops, seen);
    return complete ? digest.hex() : undefined;
  }

  /**
   * Calls `visit` for each path `sources` select, in the order hashSources
   * hashes them: source by source, each one's tree depth first in name order.
   * `content` is a file's content hash, a link's target, or "" for a
   * directory. A visit that returns a promise is awaited (a writer's backpressure).
   * With `unseenStops`, the walk stops (false) if the first directory with files it meets is one the store has no record of.
   * `seen` learns the latest status change (ctime) of any path the walk lists.
   */
  async visitSources(sources: readonly CopySource[], store: ContextHashStore, visit: SourceVisitor, unseenStops = false, seen?: LatestChange): Promise<boolean> {
    const walk: WalkState = { unseenStops, seen, keep: this.kept.begin(), implied: [] };
    for (let source = 0; source < sources.length; source++) {
      for (const match of await this.match(sources[source]!.path, sources[source]!.exclude)) {
        walk.exclusion = match.exclude && { filter: match.exclude, base: match.rel };
        let content = '';
        if (match.stats.isFile()) {
          const hashes = await store.directory(dirname(match.abs));
          content = await hashes.hash(basename(match.abs), match.stats);
          await hashes.save();
        } else if (match.stats.isSymbolicLink()) {
          content = linkTarget(match.abs);
        }
        if (seen) seen.ctimeMs = Math.max(seen.ctimeMs, match.stats.ctimeMs);
        await visit(source, match.rel, match.stats.mode, content);
        if (match.stats.isDirectory() && !(await this.visitTree(source, match, store, visit, walk))) return false;
      }
    }
    return true;
  }

  /**
   * Visits a directory's tree in walk order. One directory at a time: its
   * files' hashes are looked up (stat only) and the missing ones read, the
   * small ones in groups on the thread pool while earlier ones are hashed.
   * The next subdirectory is listed (on the thread pool) and its segment read
   * while this one is visited, so the kernel's stat work overlaps the decoding.
   */
  private async visitTree(
    source: number, dir: ContextEntry, store: ContextHashStore, visit: SourceVisitor, walk: WalkState, loaded?: Promise<LoadedDirectory>,
  ): Promise<boolean> {
    const { listing, hashes } = await (loaded ?? loadDirectory(dir, store, walk.keep));
    const decisions = listing.map((e) => this.decide(e.rel, e.stats.isDirectory(), walk.exclusion));
    const contents = new Array<string | undefined>(listing.length);
    const missing: number[] = [];
    for (let i = 0; i < listing.length; i++) {
      const { name, stats } = listing[i]!;
      if (decisions[i] !== 'keep' || !stats.isFile()) continue;
      contents[i] = hashes.remembered(name, stats);
      if (contents[i] === undefined) missing.push(i);
    }
    if (walk.unseenStops && missing.length > 0 && hashes.empty) return false;
    if (!hashes.empty) walk.unseenStops = false;
    // Before any read starts: a record's time may only be earlier than its read (see the racy window).
    const readAt = Date.now();
    const small = missing.filter((i) => listing[i]!.stats.size <= SMALL_FILE_MAX);
    const ctimes = new Float64Array(small.length);
    const hashed = new Array<string>(small.length);
    const ahead = new FileReadAhead(dir.abs, small.map((i) => ({ name: listing[i]!.name, size: listing[i]!.stats.size })), (k, _, ctimeMs, hash) => {
      ctimes[k] = ctimeMs;
      hashed[k] = hash!;
    }, true);
    for (let k = 0; k < small.length; k++) {
      const { name, stats } = listing[small[k]!]!;
      await ahead.read(k);
      // Changed since it was listed: its bytes are hashed for this key, never remembered for the listed stat.
      const hash = ctimes[k] === stats.ctimeMs ? hashes.remember(name, stats, readAt, hashed[k]!) : hashed[k]!;
      contents[small[k]!] = hash;
      if (changedSince(stats.ctimeMs, readAt)) this.kept.witness(dir.abs, name, hash);
    }
    for (const i of missing) contents[i] ??= await hashes.hash(listing[i]!.name, listing[i]!.stats);
    await hashes.save();
    const subdirectories = listing.filter((entry, i) => decisions[i] !== 'skip' && entry.stats.isDirectory());
    // A walk that stops early leaves the next directory's load unawaited: it may fail unobserved.
    let next = subdirectories.length > 0 ? awaitedElsewhere(loadDirectory(subdirectories[0]!, store, walk.keep)) : undefined;
    let following = 1;
    for (let i = 0; i < listing.length; i++) {
      const entry = listing[i]!;
      if (decisions[i] === 'skip') continue;
      if (walk.seen) walk.seen.ctimeMs = Math.max(walk.seen.ctimeMs, entry.stats.ctimeMs);
      if (decisions[i] === 'keep') {
        let content = contents[i] ?? '';
        if (entry.stats.isSymbolicLink()) {
          content = linkTarget(entry.abs);
          this.kept.witness(dir.abs, entry.name, content);
        }
        for (const { rel, mode } of walk.implied.splice(0)) {
          const waiting = visit(source, rel, mode, '');
          if (waiting) await waiting;
        }
        const waiting = visit(source, entry.rel, entry.stats.mode, content);
        if (waiting) await waiting;
      }
      if (!entry.stats.isDirectory()) continue;
      const own = next!;
      next = following < subdirectories.length ? awaitedElsewhere(loadDirectory(subdirectories[following++]!, store, walk.keep)) : undefined;
      const implied = decisions[i] === 'descend' ? { rel: entry.rel, mode: entry.stats.mode } : undefined;
      if (implied) walk.implied.push(implied);
      if (!(await this.visitTree(source, entry, store, visit, walk, own))) return false;
      // Nothing below it was kept: neither is it.
      if (implied && walk.implied.at(-1) === implied) walk.implied.pop();
    }
    return true;
  }

  /** Whether a walk keeps a path, enters it only for what an exception re-includes below it, or skips it; by .dockerignore, then `exclusion`. */
  private decide(rel: string, isDir: boolean, exclusion?: Exclusion): WalkDecision {
    const ignored = filterDecision(this.filter, rel, this.excluded(rel), isDir);
    if (!exclusion || ignored === 'skip') return ignored;
    const below = exclusion.base === '' ? rel : rel.slice(exclusion.base.length + 1);
    const excluded = filterDecision(exclusion.filter, below, exclusion.filter.ignores(below), isDir);
    return excluded === 'keep' ? ignored : excluded;
  }

  /**
   * Everything below a directory entry that .dockerignore lets through. An
   * ignored directory is still entered when an exception could match inside
   * it; then only the re-included paths come out (their parents are created).
   */
  walk(dir: ContextEntry, reads: LayerReads = {}): Generator<ContextEntry> {
    const exclusion = dir.exclude && { filter: dir.exclude, base: dir.rel };
    return walkTree(dir, (rel, isDir) => this.decide(rel, isDir, exclusion), { ...reads, kept: this.kept });
  }

  /** Drops the listings the last key walk kept (its step is done). */
  forgetListings(): void {
    this.kept.clear();
  }
}

/** What one filter's verdict on a path means for a walk: an excluded directory is entered only if an exception could re-include something below it. */
function filterDecision(filter: ContextFilter | undefined, rel: string, excluded: boolean, isDir: boolean): WalkDecision {
  if (!excluded) return 'keep';
  return isDir && filter?.couldMatchInside(rel) ? 'descend' : 'skip';
}

/** The latest status change (ctime, ms) of the paths a walk listed. */
export interface LatestChange {
  ctimeMs: number;
}

/** One selected path: which of the sources selected it, its context-relative path, mode and content (see visitSources). */
export type SourceVisitor = (source: number, rel: string, mode: number, content: string) => void | Promise<void>;


/** A directory's listing (made on the thread pool) and its remembered hashes, loaded side by side. */
interface LoadedDirectory {
  listing: ListedEntry[];
  hashes: DirectoryHashes;
}

async function loadDirectory(dir: ContextEntry, store: ContextHashStore, keep: WalkState['keep']): Promise<LoadedDirectory> {
  const [listed, hashes] = await Promise.all([listDirectoryAsync(dir.abs), store.directory(dir.abs)]);
  keep(dir.abs, listed);
  return { listing: inNameOrder(dir, listed.entries()), hashes };
}

/** The names a glob component is matched against: none where the path so far is no directory (ENOENT, ENOTDIR). */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(fsPath(dir), { encoding: 'buffer' })).map((raw) => decodeName(raw));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}
