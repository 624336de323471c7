import { GlobRun, literalAtom, type GlobAtom } from '../context/globPattern.js';
import { ExpansionError } from './expansionError.js';

// The patterns of `${v#p}`, `${v%p}` and `${v/p/r}`: `*` is any run of characters (`/` too), `?` any one,
// and `\*`, `\?`, `\\` those characters; `\}` and `\/` are `}` and `/` (BuildKit's lexer). They run as a
// GlobRun, never as a backtracking regexp: values may be megabytes and the Dockerfile hostile.

const ANY_RUN: GlobAtom = { kind: 'many', test: () => true };
const ANY_ONE: GlobAtom = { kind: 'one', test: () => true };

function literal(char: string): GlobAtom {
  return literalAtom(char.codePointAt(0)!);
}

function patternAtoms(pattern: string): GlobAtom[] {
  const chars = Array.from(pattern);
  const atoms: GlobAtom[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') atoms.push(ANY_RUN);
    else if (c === '?') atoms.push(ANY_ONE);
    else if (c === '\\') {
      const n = chars[i + 1];
      // Only the backslash goes: the `}` or `/` after it is read as itself next.
      if (n === '}' || n === '/') continue;
      if (n !== '*' && n !== '?' && n !== '\\') throw new ExpansionError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      atoms.push(literal(n));
      i++;
    } else atoms.push(literal(c));
  }
  return atoms;
}

/** A string's code points by position, and the text between two positions. */
class CodePoints {
  private readonly cps: number[] = [];
  /** The string index of each code point and of the end, where a surrogate pair makes them differ. */
  private readonly offsets?: number[];

  constructor(private readonly text: string) {
    // Without surrogates a code point is a string index: nothing to keep.
    if (!/[\uD800-\uDFFF]/.test(text)) return;
    this.offsets = [];
    for (let i = 0; i < text.length;) {
      const cp = text.codePointAt(i)!;
      this.cps.push(cp);
      this.offsets.push(i);
      i += cp > 0xffff ? 2 : 1;
    }
    this.offsets.push(text.length);
  }

  get length(): number {
    return this.offsets ? this.cps.length : this.text.length;
  }

  at(i: number): number {
    return this.offsets ? this.cps[i]! : this.text.charCodeAt(i);
  }

  slice(from: number, to: number): string {
    return this.offsets ? this.text.slice(this.offsets[from], this.offsets[to]) : this.text.slice(from, to);
  }
}

/** `value` without its shortest (or `longest`) prefix that matches `pattern` (`${v#p}`, `${v##p}`). */
export function trimPrefix(pattern: string, value: string, longest: boolean): string {
  const run = new GlobRun(patternAtoms(pattern));
  const text = new CodePoints(value);
  run.start();
  let cut = run.matched ? 0 : -1;
  for (let i = 0; i < text.length && (cut < 0 || longest) && run.step(text.at(i)); i++) {
    if (run.matched) cut = i + 1;
  }
  return cut < 0 ? value : text.slice(cut, text.length);
}

/** `value` without its shortest (or `longest`) suffix that matches `pattern` (`${v%p}`, `${v%%p}`): the pattern read backwards. */
export function trimSuffix(pattern: string, value: string, longest: boolean): string {
  const run = new GlobRun(patternAtoms(pattern).reverse());
  const text = new CodePoints(value);
  run.start();
  let cut = run.matched ? text.length : -1;
  for (let i = text.length - 1; i >= 0 && (cut < 0 || longest) && run.step(text.at(i)); i--) {
    if (run.matched) cut = i;
  }
  return cut < 0 ? value : text.slice(0, cut);
}

/**
 * `value` with the leftmost longest match of `pattern` replaced (`${v/p/r}`),
 * or every one (`${v//p/r}`), as a regexp's `replace` does: after an empty
 * match the next character stays. `limit` bounds the result's length; past
 * it, `tooLong` is thrown before more is built.
 */
export function replacePattern(pattern: string, value: string, replacement: string, all: boolean, limit: number, tooLong: () => Error): string {
  const atoms = patternAtoms(pattern);
  const text = new CodePoints(value);
  const n = text.length;
  // Where a match can start: the pattern read backwards from the end, a match allowed to end anywhere.
  const canStart = new Uint8Array(n + 1);
  const back = new GlobRun([...atoms].reverse());
  back.start();
  canStart[n] = back.matched ? 1 : 0;
  for (let i = n - 1; i >= 0; i--) {
    back.step(text.at(i));
    // A match may also end at i: for the empty one at i, and for those the steps before i read on.
    back.startAgain();
    canStart[i] = back.matched ? 1 : 0;
  }
  const forward = new GlobRun(atoms);
  let out = '';
  let pos = 0;
  for (let s = 0; s <= n; s++) {
    if (canStart[s] === 0) continue;
    forward.start();
    let end = s;
    for (let i = s; i < n && forward.step(text.at(i)); i++) if (forward.matched) end = i + 1;
    out += text.slice(pos, s) + replacement;
    if (out.length > limit) throw tooLong();
    if (end === s) {
      if (s === n) {
        pos = n;
        break;
      }
      // An empty match: the character after it stays, and the search goes on past it.
      out += text.slice(s, s + 1);
      pos = s + 1;
    } else {
      pos = end;
      s = end - 1;
    }
    if (!all) break;
  }
  return out + text.slice(pos, n);
}
