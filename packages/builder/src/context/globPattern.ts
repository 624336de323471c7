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

const SLASH = 0x2f;

/**
 * One step of a compiled pattern (globMatcher): one character that `test`
 * accepts; any run of such characters; or `**` followed by `/` in a
 * .dockerignore pattern, which is nothing or any run of characters ending
 * with `/` (whole directories).
 */
export type GlobAtom =
  | { kind: 'one'; test: (cp: number) => boolean }
  | { kind: 'many'; test: (cp: number) => boolean }
  | { kind: 'dirs' };

const notSlash = (cp: number) => cp !== SLASH;

/** The atom of one token: `*` and `?` never match `/`; a class is Go's (a negated one matches `/`). */
export function tokenAtom(token: GlobToken): GlobAtom {
  switch (token.kind) {
    case 'star':
      return { kind: 'many', test: notSlash };
    case 'any':
      return { kind: 'one', test: notSlash };
    case 'literal': {
      const cp = token.char.codePointAt(0)!;
      return { kind: 'one', test: (c) => c === cp };
    }
    case 'class': {
      const { ranges, negated } = token;
      return { kind: 'one', test: (c) => ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negated };
    }
  }
}

/** A state of GlobRun's automaton: `dirs` becomes a fork (nothing, or the run) and the run ending with `/`. */
type GlobState =
  | { kind: 'one' | 'many'; test: (cp: number) => boolean }
  | { kind: 'fork' }
  | { kind: 'run' };

/**
 * A pattern's atoms run as an automaton that is in a set of states at once,
 * a code point at a time: time proportional to the text's length times the
 * pattern's. A backtracking regexp takes time exponential in the number of
 * `*` on a text that almost matches: one line of a hostile .dockerignore
 * (`**` eight times over) held up a build for minutes per path, and a
 * `${v#*a*a*a*a*a}` for as long on a value of 200 characters.
 */
export class GlobRun {
  private readonly states: GlobState[];
  private current: Uint8Array;
  private next: Uint8Array;

  constructor(atoms: readonly GlobAtom[]) {
    this.states = atoms.flatMap((atom): GlobState[] => (atom.kind === 'dirs' ? [{ kind: 'fork' }, { kind: 'run' }] : [atom]));
    this.current = new Uint8Array(this.states.length + 1);
    this.next = new Uint8Array(this.states.length + 1);
  }

  /** Back to the start: nothing read. */
  start(): void {
    this.current.fill(0);
    this.enter(this.current, 0);
  }

  /** A match may also start here (a search for one anywhere). */
  startAgain(): void {
    this.enter(this.current, 0);
  }

  /** Reads one code point; whether any match is still possible. */
  step(cp: number): boolean {
    const { states, current, next } = this;
    next.fill(0);
    let alive = false;
    for (let j = 0; j < states.length; j++) {
      if (current[j] === 0) continue;
      const state = states[j]!;
      if (state.kind === 'run') {
        this.enter(next, j);
        if (cp === SLASH) this.enter(next, j + 1);
        alive = true;
      } else if (state.kind !== 'fork' && state.test(cp)) {
        this.enter(next, state.kind === 'one' ? j + 1 : j);
        alive = true;
      }
    }
    this.current = next;
    this.next = current;
    return alive;
  }

  /** Whether what was read since the start matches all the atoms. */
  get matched(): boolean {
    return this.current[this.states.length] === 1;
  }

  /** Marks state `j` and the states it reaches without reading. */
  private enter(set: Uint8Array, j: number): void {
    if (set[j] === 1) return;
    set[j] = 1;
    const state = this.states[j];
    if (state?.kind === 'many') this.enter(set, j + 1);
    else if (state?.kind === 'fork') {
      this.enter(set, j + 1);
      this.enter(set, j + 2);
    }
  }
}

/** Whether all of a text matches the atoms (see GlobRun). */
export function globMatcher(atoms: readonly GlobAtom[]): (text: string) => boolean {
  const run = new GlobRun(atoms);
  return (text) => {
    run.start();
    for (const ch of text) if (!run.step(ch.codePointAt(0)!)) return false;
    return run.matched;
  };
}

/** A matcher for one path component, as Go's filepath.Match; throws GlobSyntaxError for a malformed pattern. */
export function componentMatcher(pattern: string): (name: string) => boolean {
  return globMatcher(globTokens(pattern).map(tokenAtom));
}

/** Whether a COPY/ADD source has wildcards, as BuildKit decides it (an escaped character is none). */
export function hasGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./gs, ''));
}
