/**
 * Variable expansion with the semantics of BuildKit's Dockerfile shell lexer: a small
 * subset of POSIX sh word expansion ($v, ${v}, ${v:-w}, ${v+w}, ${v?msg}, ${v#p},
 * ${v%p}, ${v/p/r}) plus quote removal. It is not a shell: no command substitution,
 * no globbing, no arithmetic.
 */

import { ExpansionError } from './expansionError.js';
import { replacePattern, trimPrefix, trimSuffix } from './shellPattern.js';

export { ExpansionError };

export type VariableLookup = (name: string) => string | undefined;

/**
 * The most characters one expansion may produce. `ENV A=$A$A`, line after
 * line, doubles A each time: past this the instruction is refused rather
 * than expanded until memory runs out.
 */
export const MAX_EXPANSION = 4 * 1024 * 1024;

export interface LexOptions {
  /** Keep quote characters in the result (quotes still group words and stop expansion). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters (used for heredoc bodies). */
  skipProcessQuotes?: boolean;
}

function tooLong(): ExpansionError {
  return new ExpansionError(`variable expansion makes more than ${MAX_EXPANSION} characters`);
}

/** `text`, unless it is longer than an expansion may be. */
function bounded(text: string): string {
  if (text.length > MAX_EXPANSION) throw tooLong();
  return text;
}

const EOF = '';

const SPACE_RUNS = /\s+/gu;

/** The words of an expansion: unquoted whitespace (in the text or in a variable's value) splits them. */
class WordCollector {
  words: string[] = [];
  private buf = '';

  addChar(ch: string): void {
    if (isSpace(ch)) this.endWord();
    else this.buf += ch;
  }
  addRaw(s: string): void {
    this.buf += s;
  }
  /** A variable's value: split with one search, not a test per character (a value may be megabytes). */
  addString(s: string): void {
    let from = 0;
    for (const space of s.matchAll(SPACE_RUNS)) {
      this.buf += s.slice(from, space.index);
      this.endWord();
      from = space.index + space[0].length;
    }
    this.buf += s.slice(from);
  }
  finish(): string[] {
    this.endWord();
    return this.words;
  }
  private endWord(): void {
    if (this.buf.length === 0) return;
    this.words.push(this.buf);
    this.buf = '';
  }
}

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

class ShellWord {
  private chars: string[];
  private pos = 0;
  private rawEscapes: boolean;

  constructor(
    source: string,
    private readonly vars: VariableLookup,
    private readonly escape: string,
    private readonly opts: LexOptions,
  ) {
    this.chars = Array.from(source);
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  process(): { result: string; words: string[] } {
    return this.processStopOn(EOF, this.rawEscapes);
  }

  private processStopOn(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          result = bounded(result + v);
          words.addString(v);
        } else if (ch === '<') {
          const v = this.processPossibleHeredoc();
          result += v;
          words.addRaw(v);
        } else if (!this.opts.skipProcessQuotes && ch === "'") {
          const v = this.processSingleQuote();
          result += v;
          words.addRaw(v);
        } else if (!this.opts.skipProcessQuotes && ch === '"') {
          const v = this.processDoubleQuote();
          result = bounded(result + v);
          words.addRaw(v);
        } else {
          let c = this.next();
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRaw(c);
              result += c;
            }
            c = this.next();
            if (c === EOF) break;
            words.addRaw(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
      if (stop !== EOF) throw new ExpansionError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    return this.processQuoted("'", 'single-quote', () => this.next());
  }

  private processDoubleQuote(): string {
    return this.processQuoted('"', 'double-quote', () => this.doubleQuotedPiece());
  }

  /**
   * A quoted string from its opening quote to its closing one (the quotes kept
   * only with rawQuotes); `piece` reads what stands between them, a piece a call.
   */
  private processQuoted(quote: string, quoteName: string, piece: () => string): string {
    const open = this.next();
    let result = this.opts.rawQuotes ? open : '';
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new ExpansionError(`unexpected end of statement while looking for matching ${quoteName}`);
      if (p === quote) {
        const close = this.next();
        return this.opts.rawQuotes ? result + close : result;
      }
      result = bounded(result + piece());
    }
  }

  /** Within double quotes $ still expands, and the escape character escapes only ", $ and itself. */
  private doubleQuotedPiece(): string {
    if (this.peek() === '$') return this.processDollar();
    const ch = this.next();
    if (ch !== this.escape) return ch;
    const kept = this.rawEscapes ? ch : '';
    const after = this.peek();
    if (after === EOF) return kept;
    return after === '"' || after === '$' || after === this.escape ? kept + this.next() : kept + ch;
  }

  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') space += this.next();
    return '<<' + space;
  }

  private lookup(name: string): string | undefined {
    return this.vars(name);
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new ExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ExpansionError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let modifier = ch;
    let nullIsUnset = false;
    if (ch === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.processReplacement(name);
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch;
    }
    if (!['+', '-', '?', '#', '%'].includes(ch)) throw new ExpansionError(`unsupported modifier (${modifier}) in substitution`);
    const patternOp = ch === '#' || ch === '%';
    if (nullIsUnset && patternOp) throw new ExpansionError(`unsupported modifier (${modifier}) in substitution`);
    const word = this.processUntil('}', patternOp, "missing '}'");
    const value = this.lookup(name);
    const set = value !== undefined;
    if (!set && this.opts.skipUnsetEnv) return `\${${name}${modifier}${word}}`;
    const empty = !set || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      case '?':
        if (!set) throw new ExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new ExpansionError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value!;
      default: {
        const greedy = word.startsWith(ch);
        const pattern = greedy ? word.slice(1) : word;
        return ch === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy);
      }
    }
  }

  private processReplacement(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.processUntil('/', true, "missing '/' in ${}");
    const replacement = this.processUntil('}', true, "missing '}'");
    const value = this.lookup(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    return replacePattern(pattern, value ?? '', replacement, all, MAX_EXPANSION, tooLong);
  }

  /** The expanded text up to `stop`; input that ends before it is the syntax error `missing`. */
  private processUntil(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (e) {
      if (e instanceof ExpansionError && this.peek() === EOF) throw new ExpansionError(`syntax error: ${missing}`);
      throw e;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && /^\p{Nd}$/u.test(ch)) {
        while (this.peek() !== EOF && /^\p{Nd}$/u.test(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) return this.next();
      if (!/^[\p{L}\p{Nd}_]$/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }
}

/** Expands one word; quotes are removed, whitespace is kept (ENV values, WORKDIR, USER…). */
export function expandWord(word: string, vars: VariableLookup, escape = '\\', opts: LexOptions = {}): string {
  return new ShellWord(word, vars, escape, opts).process().result;
}

/** Expands and splits on unquoted whitespace (EXPOSE ports, ONBUILD-free word lists, heredoc names). */
export function expandWords(text: string, vars: VariableLookup, escape = '\\', opts: LexOptions = {}): string[] {
  return new ShellWord(text, vars, escape, opts).process().words;
}
