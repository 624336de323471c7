/**
 * Go's filepath.Match syntax, the one home for it: COPY/ADD sources match
 * one path component with it, and .dockerignore (moby/patternmatcher) builds
 * its `**` patterns on top of it.
 *
 * `*` is any run of characters but `/`, `?` one character but `/`, `\x` the
 * character x (any x), and `[...]` one character of a class of characters
 * and `lo-hi` ranges, negated only by a leading `^` (`[!a]` is `!` or `a`,
 * as in Go). Inside a class `\` escapes too, and `-` and `]` must be escaped
 * where they would otherwise be read as syntax (`[\]a]`, `[x\-]`).
 */

/** A pattern Go's filepath.Match refuses with ErrBadPattern, or one with a reversed range. */
export class GlobSyntaxError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`bad pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

export type GlobToken =
  | { kind: 'star' }
  | { kind: 'any' }
  /** One character; `escaped` when it was written as `\x`. */
  | { kind: 'literal'; char: string; escaped: boolean }
  /** Code point ranges, inclusive. */
  | { kind: 'class'; negated: boolean; ranges: [number, number][] };

/**
 * The tokens of a pattern, checked the way Go's filepath.Match checks the
 * whole pattern. A reversed range (`[z-a]`) matches nothing in Go but makes
 * patternmatcher's regexp fail on first use, so it is refused here too.
 */
export function globTokens(pattern: string): GlobToken[] {
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  let i = 0;

  /** One class member, as Go's getEsc reads it. */
  const classChar = (): string => {
    const c = chars[i];
    if (c === undefined) throw new GlobSyntaxError(pattern, 'unterminated character class (missing "]")');
    if (c === '-' || c === ']') throw new GlobSyntaxError(pattern, `"${c}" must be escaped as "\\${c}" here in a character class`);
    let member = c;
    i++;
    if (c === '\\') {
      if (chars[i] === undefined) throw new GlobSyntaxError(pattern, 'unterminated character class (missing "]")');
      member = chars[i++]!;
    }
    if (i >= chars.length) throw new GlobSyntaxError(pattern, 'unterminated character class (missing "]")');
    return member;
  };

  while (i < chars.length) {
    const c = chars[i++]!;
    if (c === '*') tokens.push({ kind: 'star' });
    else if (c === '?') tokens.push({ kind: 'any' });
    else if (c === '\\') {
      const next = chars[i++];
      if (next === undefined) throw new GlobSyntaxError(pattern, 'a trailing "\\" escapes nothing');
      tokens.push({ kind: 'literal', char: next, escaped: true });
    } else if (c === '[') {
      const negated = chars[i] === '^';
      if (negated) i++;
      const ranges: [number, number][] = [];
      for (;;) {
        if (chars[i] === ']' && ranges.length > 0) {
          i++;
          break;
        }
        const lo = classChar();
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          hi = classChar();
        }
        const range: [number, number] = [lo.codePointAt(0)!, hi.codePointAt(0)!];
        if (range[0] > range[1]) throw new GlobSyntaxError(pattern, `reversed range "${lo}-${hi}" in a character class`);
        ranges.push(range);
      }
      tokens.push({ kind: 'class', negated, ranges });
    } else tokens.push({ kind: 'literal', char: c, escaped: false });
  }
  return tokens;
}

function codePoint(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** A literal character as regexp source (for the `u` flag). */
export function literalSource(char: string): string {
  return /^[\w/]$/.test(char) ? char : codePoint(char.codePointAt(0)!);
}

/** Regexp source (for the `u` and `s` flags) of one token; `*` and `?` never match `/`. */
export function tokenSource(token: GlobToken): string {
  switch (token.kind) {
    case 'star':
      return '[^/]*';
    case 'any':
      return '[^/]';
    case 'literal':
      return literalSource(token.char);
    case 'class': {
      const members = token.ranges.map(([lo, hi]) => (lo === hi ? codePoint(lo) : `${codePoint(lo)}-${codePoint(hi)}`));
      return `[${token.negated ? '^' : ''}${members.join('')}]`;
    }
  }
}

/** A matcher for one path component, as Go's filepath.Match; throws GlobSyntaxError for a malformed pattern. */
export function componentMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(`^${globTokens(pattern).map(tokenSource).join('')}$`, 'su');
  return (name) => re.test(name);
}

/** Whether a COPY/ADD source has wildcards, as BuildKit decides it (an escaped character is none). */
export function hasGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./gs, ''));
}
