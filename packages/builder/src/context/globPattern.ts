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
 * accepts (`char` when that is one code point); any run of such characters;
 * or `**` followed by `/` in a .dockerignore pattern, which is nothing or any
 * run of characters ending with `/` (whole directories).
 */
export type GlobAtom =
  | { kind: 'one'; test: (cp: number) => boolean; char?: number }
  | { kind: 'many'; test: (cp: number) => boolean }
  | { kind: 'dirs' };

const notSlash = (cp: number) => cp !== SLASH;

/** The atom of one code point. */
export function literalAtom(cp: number): GlobAtom {
  return { kind: 'one', test: (c) => c === cp, char: cp };
}

/** The atom of one token: `*` and `?` never match `/`; a class is Go's (a negated one matches `/`). */
export function tokenAtom(token: GlobToken): GlobAtom {
  switch (token.kind) {
    case 'star':
      return { kind: 'many', test: notSlash };
    case 'any':
      return { kind: 'one', test: notSlash };
    case 'literal':
      return literalAtom(token.char.codePointAt(0)!);
    case 'class': {
      const { ranges, negated } = token;
      return { kind: 'one', test: (c) => ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negated };
    }
  }
}

/** The states of GlobRun's automaton: `dirs` becomes a fork (nothing, or the run) and the run ending with `/`. */
const ONE = 0;
const MANY = 1;
const FORK = 2;
const RUN = 3;

/**
 * A pattern's atoms run as an automaton that is in a set of states at once,
 * a code point at a time: time proportional to the text's length times the
 * pattern's. A backtracking regexp takes time exponential in the number of
 * `*` on a text that almost matches: one line of a hostile .dockerignore
 * (`**` eight times over) held up a build for minutes per path, and a
 * `${v#*a*a*a*a*a}` for as long on a value of 200 characters.
 */
export class GlobRun {
  private readonly kinds: Uint8Array;
  /** By state: what a ONE or MANY state reads (none for a fork or a run). */
  private readonly tests: (((cp: number) => boolean) | undefined)[];
  /** By state: the states it reaches without reading a character, itself first. */
  private readonly closures: Int32Array[];
  private readonly accept: number;
  /** The states the automaton is in, and a list to build the next set in. */
  private states: Int32Array;
  private size = 0;
  private spare: Int32Array;
  /** A state is in the current set when its mark is the current generation. */
  private readonly marks: Uint32Array;
  private generation = 1;

  constructor(atoms: readonly GlobAtom[]) {
    const kinds: number[] = [];
    this.tests = [];
    for (let i = 0; i < atoms.length; i++) {
      const atom = atoms[i]!;
      const before = atoms[i - 1];
      // `**/**/` is `**/`, and `**` in a component or `**` in a shell pattern is `*`: a chain of them would make
      // a chain of states, each reaching all those after it without reading (a hostile pattern of many stars).
      if (atom.kind === 'dirs' ? before?.kind === 'dirs' : atom.kind === 'many' && before?.kind === 'many' && before.test === atom.test) continue;
      if (atom.kind === 'dirs') {
        kinds.push(FORK, RUN);
        this.tests.push(undefined, undefined);
      } else {
        kinds.push(atom.kind === 'one' ? ONE : MANY);
        this.tests.push(atom.test);
      }
    }
    this.kinds = Uint8Array.from(kinds);
    this.accept = kinds.length;
    this.closures = Array.from({ length: kinds.length + 1 }, (_, j) => Int32Array.from(this.closureOf(j)));
    this.states = new Int32Array(kinds.length + 1);
    this.spare = new Int32Array(kinds.length + 1);
    this.marks = new Uint32Array(kinds.length + 1);
  }

  /** Back to the start: nothing read. */
  start(): void {
    this.generation++;
    this.size = 0;
    this.enter(0);
  }

  /** A match may also start here (a search for one anywhere). */
  startAgain(): void {
    this.enter(0);
  }

  /** Reads one code point; whether any match is still possible. */
  step(cp: number): boolean {
    const { kinds, tests } = this;
    const from = this.states;
    const count = this.size;
    this.states = this.spare;
    this.spare = from;
    this.size = 0;
    this.generation++;
    for (let i = 0; i < count; i++) {
      const j = from[i]!;
      const kind = kinds[j];
      if (kind === RUN) {
        this.enter(j);
        if (cp === SLASH) this.enter(j + 1);
      } else if ((kind === ONE || kind === MANY) && tests[j]!(cp)) {
        this.enter(kind === ONE ? j + 1 : j);
      }
    }
    return this.size > 0;
  }

  /** Whether what was read since the start matches all the atoms. */
  get matched(): boolean {
    return this.marks[this.accept] === this.generation;
  }

  /** Adds state `j` and the states it reaches without reading. */
  private enter(j: number): void {
    const { marks, generation } = this;
    for (const k of this.closures[j]!) {
      if (marks[k] === generation) continue;
      marks[k] = generation;
      this.states[this.size++] = k;
    }
  }

  private closureOf(j: number, into: number[] = []): number[] {
    if (into.includes(j)) return into;
    into.push(j);
    if (this.kinds[j] === MANY) this.closureOf(j + 1, into);
    else if (this.kinds[j] === FORK) {
      this.closureOf(j + 1, into);
      this.closureOf(j + 2, into);
    }
    return into;
  }
}

/** The text of the atoms' leading (or, `fromEnd`, trailing) single characters, which every match must start (end) with. */
function literalEdge(atoms: readonly GlobAtom[], fromEnd: boolean): string {
  const chars: number[] = [];
  for (let i = 0; i < atoms.length; i++) {
    const atom = atoms[fromEnd ? atoms.length - 1 - i : i]!;
    if (atom.kind !== 'one' || atom.char === undefined) break;
    chars.push(atom.char);
  }
  // One code point at a time: a pattern may be longer than a call may have arguments.
  return (fromEnd ? chars.reverse() : chars).map((cp) => String.fromCodePoint(cp)).join('');
}

/**
 * Whether all of a text matches the atoms (see GlobRun). The literal
 * characters a pattern starts and ends with are compared first: most paths
 * a .dockerignore line is tried on fail there, without a step.
 */
export function globMatcher(atoms: readonly GlobAtom[]): (text: string) => boolean {
  const run = new GlobRun(atoms);
  const head = literalEdge(atoms, false);
  const tail = literalEdge(atoms, true);
  return (text) => {
    if (!text.startsWith(head) || !text.endsWith(tail)) return false;
    run.start();
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      // A surrogate pair is one code point, as a `for...of` over the string reads it.
      if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low < 0xe000) {
          cp = (cp - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
          i++;
        }
      }
      if (!run.step(cp)) return false;
    }
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
