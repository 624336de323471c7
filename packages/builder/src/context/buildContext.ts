import { createHash } from 'node:crypto';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { resolveInRoot } from '@tsbuild/oci-layout';
import { componentMatcher, hasGlob } from './globPattern.js';
import type { FileHashCache } from './fileHashCache.js';

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
  stats: Stats;
}

export class ContextError extends Error {}

/** The build context directory as COPY/ADD see it: .dockerignore applied, nothing outside reachable. */
export class BuildContext {
  private constructor(
    readonly dir: string,
    private readonly filter?: ContextFilter,
    /** An image's root filesystem: its symlinks resolve as if `dir` were `/`. */
    private readonly isImageRoot = false,
  ) {}

  static async open(dir: string, filter?: ContextFilter): Promise<BuildContext> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new ContextError(`build context "${dir}" is not a directory`);
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
   */
  async match(source: string): Promise<ContextEntry[]> {
    const rel = BuildContext.clean(source);
    if (!hasGlob(rel)) {
      const entry = await this.entryFollowingLinks(rel);
      if (!entry || this.excluded(rel)) {
        throw new ContextError(`"${source}" not found in the build context (or excluded by .dockerignore)`);
      }
      return [entry];
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
        const names = await readdir(join(this.dir, dir)).catch(() => [] as string[]);
        for (const name of names.sort()) if (matches(name)) next.push(dir ? `${dir}/${name}` : name);
      }
      frontier = next;
    }
    const found: ContextEntry[] = [];
    for (const candidate of frontier) {
      const entry = await this.entryFollowingLinks(candidate);
      if (entry && !this.excluded(candidate)) found.push(entry);
    }
    if (found.length === 0) throw new ContextError(`no source files were specified: "${source}" matches nothing in the build context`);
    return found;
  }

  /** A named source: symlinks are followed, but only to places inside the context. */
  private async entryFollowingLinks(rel: string): Promise<ContextEntry | undefined> {
    const abs = join(this.dir, rel);
    let real: string;
    try {
      real = this.isImageRoot ? await resolveInRoot(this.dir, rel, { followFinal: true }) : await realpath(abs);
      if (this.isImageRoot) await lstat(real);
    } catch {
      return undefined;
    }
    const inside = relative(this.dir, real);
    if (inside.startsWith('..') || inside.startsWith(sep)) {
      throw new ContextError(`"${rel}" points outside the build context`);
    }
    return { rel, abs: real, stats: await stat(real) };
  }

  /**
   * A content hash of what `sources` select (paths, types, modes, link
   * targets, file contents; not mtimes or owners), for the build cache.
   */
  async hashSources(sources: string[], files: FileHashCache): Promise<string> {
    const entries: ContextEntry[] = [];
    for (const source of sources) {
      for (const match of await this.match(source)) {
        entries.push(match);
        if (match.stats.isDirectory()) for await (const child of this.walk(match)) entries.push(child);
      }
    }
    // Several files at once: a context of many small files is bound by latency, not bytes.
    const contents = new Array<string>(entries.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < entries.length; i = next++) {
        const { stats, abs } = entries[i]!;
        contents[i] = stats.isFile() ? await files.hash(abs, stats) : stats.isSymbolicLink() ? await readlink(abs) : '';
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const hash = createHash('sha256');
    for (const [i, entry] of entries.entries()) hash.update(`${entry.rel}\0${entry.stats.mode}\0${contents[i]}\0`);
    return hash.digest('hex');
  }

  /**
   * Everything below a directory entry that .dockerignore lets through. An
   * ignored directory is still entered when an exception could match inside
   * it; then only the re-included paths come out (their parents are created).
   */
  walk(dir: ContextEntry): AsyncGenerator<ContextEntry> {
    return walkTree(dir, (rel, isDir) => {
      if (!this.excluded(rel)) return 'keep';
      return isDir && this.filter?.couldMatchInside(rel) ? 'descend' : 'skip';
    });
  }
}

type WalkDecision = 'keep' | 'descend' | 'skip';

/**
 * Everything below a directory, depth first in name order, symlinks not
 * followed. `rel` paths are relative to `dir.rel`'s tree; `decide` prunes.
 */
export async function* walkTree(dir: ContextEntry, decide: (rel: string, isDir: boolean) => WalkDecision = () => 'keep'): AsyncGenerator<ContextEntry> {
  const names = (await readdir(dir.abs)).sort();
  for (const name of names) {
    const rel = dir.rel ? `${dir.rel}/${name}` : name;
    const abs = join(dir.abs, name);
    const stats = await lstat(abs);
    const decision = decide(rel, stats.isDirectory());
    if (decision === 'skip') continue;
    if (decision === 'keep') yield { rel, abs, stats };
    if (stats.isDirectory()) yield* walkTree({ rel, abs, stats }, decide);
  }
}
