/**
 * .dockerignore with moby/patternmatcher semantics: Go's filepath.Match syntax
 * (see globPattern.ts) within one path component, `**` across any number of
 * them, `!` exceptions, the last matching pattern wins, and a pattern that
 * matches a directory matches everything below it. A malformed pattern is an
 * error when the file is read, where patternmatcher finds some (a reversed
 * range) only on first use.
 *
 * Note for the caller: BuildKit still sends the Dockerfile and the ignore file even when
 * they match; deciding that is the context sender's job, not this matcher's.
 */
import path from 'node:path/posix';
import { GlobSyntaxError, globMatcher, globTokens, tokenAtom, type GlobAtom, type GlobToken } from '../context/globPattern.js';

/** A .dockerignore pattern that cannot be used; `file` and `line` when it came from a file. */
export class IgnorePatternError extends Error {
  constructor(
    readonly reason: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(file === undefined ? reason : `${file}:${line}: ${reason}`);
  }
}

export interface IgnoreMatcher {
  /** Whether the context-relative, '/'-separated path (file or directory) is excluded. */
  ignores(relPath: string): boolean;
  /**
   * False when nothing below `dir` can be re-included by an exception; a walk may then
   * skip an ignored directory without reading it.
   */
  couldMatchInside(dir: string): boolean;
  readonly patterns: readonly string[];
}

interface Pattern {
  exclusion: boolean;
  matches: (path: string) => boolean;
  /** The pattern's tokens split at `/`, for `couldMatchInside`. */
  dirs: GlobToken[][];
}

interface IgnoreLine {
  pattern: string;
  line: number;
}

/** Lines of a .dockerignore file -> patterns with their line numbers, as moby's ignorefile.ReadAll. */
function readIgnoreLines(text: string): IgnoreLine[] {
  const out: IgnoreLine[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.startsWith('#')) return;
    let pattern = line.trim();
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = path.normalize(pattern).replace(/(.)\/+$/, '$1');
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: invert ? `!${pattern}` : pattern, line: index + 1 });
  });
  return out;
}

/** Lines of a .dockerignore file -> patterns, as moby's ignorefile.ReadAll. */
export function readIgnorePatterns(text: string): string[] {
  return readIgnoreLines(text).map((l) => l.pattern);
}

function isSlash(token: GlobToken | undefined): boolean {
  return token?.kind === 'literal' && token.char === '/' && !token.escaped;
}

/**
 * patternmatcher's four ways to match a cleaned pattern: the same string; a
 * prefix (`dir/**`); a suffix (a leading `**` and nothing else special, so
 * `**.go` matches `x.go` and `a/b.go`); else a regexp in which `**` is any
 * number of whole directories and `*`, `?`, classes and escapes are Go's,
 * matched by globMatcher (in linear time, as Go's regexp package matches).
 */
function compile(cleaned: string): (path: string) => boolean {
  const tokens = globTokens(cleaned);
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const atoms: GlobAtom[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const first = i === 0;
    const token = tokens[i]!;
    if (token.kind === 'star' && tokens[i + 1]?.kind === 'star') {
      i++;
      if (isSlash(tokens[i + 1])) i++;
      if (i + 1 >= tokens.length) {
        if (type === 'exact') type = 'prefix';
        else {
          atoms.push({ kind: 'many', test: () => true });
          type = 'regexp';
        }
      } else {
        atoms.push({ kind: 'dirs' });
        type = 'regexp';
      }
      if (first) type = 'suffix';
      continue;
    }
    // Only plain characters keep the simpler match types, as in patternmatcher.
    const plain = token.kind === 'literal' && !token.escaped && token.char !== '[' && token.char !== ']';
    if (!plain) type = 'regexp';
    atoms.push(tokenAtom(token));
  }
  switch (type) {
    case 'exact':
      return (p) => p === cleaned;
    case 'prefix': {
      const prefix = cleaned.slice(0, -2);
      return (p) => p.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = cleaned.slice(2);
      return (p) => p.endsWith(suffix) || (suffix.startsWith('/') && p === suffix.slice(1));
    }
    case 'regexp':
      return globMatcher(atoms);
  }
}

/** The tokens of each `/`-separated part of a pattern. */
function splitDirs(tokens: GlobToken[]): GlobToken[][] {
  const dirs: GlobToken[][] = [[]];
  for (const t of tokens) {
    if (isSlash(t)) dirs.push([]);
    else dirs[dirs.length - 1]!.push(t);
  }
  return dirs;
}

function componentCouldMatch(part: GlobToken[], name: string): boolean {
  return globMatcher(part.map(tokenAtom))(name);
}

function compilePattern(raw: string, where: { file?: string; line?: number } = {}): Pattern | undefined {
  let p = raw.trim();
  if (p === '') return undefined;
  p = path.normalize(p).replace(/(.)\/+$/, '$1');
  const exclusion = p.startsWith('!');
  if (exclusion) {
    if (p.length === 1) throw new IgnorePatternError('illegal exclusion pattern: "!"', where.file, where.line);
    p = p.slice(1);
  }
  try {
    return { exclusion, matches: compile(p), dirs: splitDirs(globTokens(p)) };
  } catch (e) {
    if (e instanceof GlobSyntaxError) throw new IgnorePatternError(e.message, where.file, where.line);
    throw e;
  }
}

function matcherOf(patterns: readonly string[], compiled: Pattern[]): IgnoreMatcher {
  const hasExclusions = compiled.some((p) => p.exclusion);

  return {
    patterns: [...patterns],
    ignores(relPath: string): boolean {
      const file = path.normalize(relPath).replace(/^\/+/, '').replace(/(.)\/+$/, '$1');
      const parent = path.dirname(file);
      const parentDirs = parent.split('/');
      let matched = false;
      for (const p of compiled) {
        // An inclusion can only change an unmatched path; an exclusion only a matched one.
        if (p.exclusion !== matched) continue;
        let match = p.matches(file);
        if (!match && parent !== '.') {
          for (let i = 0; i < parentDirs.length && !match; i++) match = p.matches(parentDirs.slice(0, i + 1).join('/'));
        }
        if (match) matched = !p.exclusion;
      }
      return matched;
    },
    couldMatchInside(dir: string): boolean {
      if (!hasExclusions) return false;
      const parts = path.normalize(dir).replace(/^\/+/, '').replace(/(.)\/+$/, '$1').split('/');
      return compiled.some((p) => {
        if (!p.exclusion) return false;
        for (let i = 0; i < parts.length; i++) {
          const part = p.dirs[i];
          // A shorter exception names a parent of dir: it re-includes dir's contents.
          if (part === undefined) return true;
          if (part.some((t, j) => t.kind === 'star' && part[j + 1]?.kind === 'star')) return true;
          if (!componentCouldMatch(part, parts[i]!)) return false;
        }
        return true;
      });
    },
  };
}

/** A matcher for patterns as moby/patternmatcher's New takes them; throws IgnorePatternError for a malformed one. */
export function createIgnoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  const compiled = patterns.map((p) => compilePattern(p)).filter((p) => p !== undefined);
  return matcherOf(patterns, compiled);
}

/** The matcher of a .dockerignore file's text; a malformed pattern is an error naming `file`:line. */
export function parseDockerignore(text: string, file = '.dockerignore'): IgnoreMatcher {
  const lines = readIgnoreLines(text);
  const compiled = lines.map((l) => compilePattern(l.pattern, { file, line: l.line })).filter((p) => p !== undefined);
  return matcherOf(lines.map((l) => l.pattern), compiled);
}

/**
 * The ignore file BuildKit uses: `<Dockerfile path>.dockerignore` beside the Dockerfile wins
 * over `<context>/.dockerignore`; undefined when neither exists.
 */
export function chooseIgnoreFile(contextDir: string, dockerfilePath: string, exists: (p: string) => boolean): string | undefined {
  const specific = `${dockerfilePath}.dockerignore`;
  if (exists(specific)) return specific;
  const general = path.join(contextDir, '.dockerignore');
  return exists(general) ? general : undefined;
}
