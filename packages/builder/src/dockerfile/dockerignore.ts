/**
 * .dockerignore with moby/patternmatcher semantics: `*`, `?`, `[...]` within one path
 * component, `**` across any number of them, `!` exceptions, the last matching pattern
 * wins, and a pattern that matches a directory matches everything below it.
 *
 * Note for the caller: BuildKit still sends the Dockerfile and the ignore file even when
 * they match; deciding that is the context sender's job, not this matcher's.
 */
import path from 'node:path/posix';

export class IgnorePatternError extends Error {}

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
  text: string;
  exclusion: boolean;
  regex: RegExp;
  dirs: string[];
}

/** Lines of a .dockerignore file -> patterns, as moby's ignorefile.ReadAll. */
export function readIgnorePatterns(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = path.normalize(pattern).replace(/(.)\/+$/, '$1');
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

function escapeRegExp(ch: string): string {
  return /[.*+?()|^${}[\]\\]/.test(ch) ? `\\${ch}` : ch;
}

function compile(pattern: string): RegExp {
  const chars = Array.from(pattern);
  let re = '^';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        re += i + 1 >= chars.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      if (i + 1 < chars.length) re += escapeRegExp(chars[++i]!);
      else re += '\\\\';
    } else if (ch === '[') {
      const close = chars.indexOf(']', i + 1);
      if (close < 0) throw new IgnorePatternError(`syntax error in pattern: ${pattern}`);
      let cls = chars.slice(i + 1, close).join('');
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      else if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = close;
    } else re += escapeRegExp(ch);
  }
  try {
    return new RegExp(re + '$', 'su');
  } catch {
    throw new IgnorePatternError(`syntax error in pattern: ${pattern}`);
  }
}

function componentCouldMatch(patternPart: string, name: string): boolean {
  return compile(patternPart).test(name);
}

export function createIgnoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  const compiled: Pattern[] = [];
  for (const raw of patterns) {
    let p = raw.trim();
    if (p === '') continue;
    p = path.normalize(p).replace(/(.)\/+$/, '$1');
    const exclusion = p.startsWith('!');
    if (exclusion) {
      if (p.length === 1) throw new IgnorePatternError('illegal exclusion pattern: "!"');
      p = p.slice(1);
    }
    compiled.push({ text: p, exclusion, regex: compile(p), dirs: p.split('/') });
  }
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
        let match = p.regex.test(file);
        if (!match && parent !== '.') {
          for (let i = 0; i < parentDirs.length && !match; i++) match = p.regex.test(parentDirs.slice(0, i + 1).join('/'));
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
          if (part.includes('**')) return true;
          if (!componentCouldMatch(part, parts[i]!)) return false;
        }
        return true;
      });
    },
  };
}

export function parseDockerignore(text: string): IgnoreMatcher {
  return createIgnoreMatcher(readIgnorePatterns(text));
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
