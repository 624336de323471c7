import type { CommandLine } from './instructions.js';
import { InstructionError } from './instructionError.js';

export const WHITESPACE = /[\t\v\f\r ]+/;

/** Builder flags (`--name=value`) at the start of the arguments, BuildKit's extractBuilderFlags. */
export function extractFlags(line: string, escape: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos]!)) pos++;
    if (pos >= line.length) return { rest: '', flags };
    if (!line.startsWith('--', pos)) return { rest: line.slice(pos), flags };
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < line.length; pos++) {
      let ch = line[pos]!;
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
      } else if (/\s/.test(ch)) break;
      else if (ch === '"' || ch === "'") {
        quote = ch;
        blankOk = true;
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
    }
    if (word === '--') return { rest: line.slice(pos).trim(), flags };
    if (blankOk || word.length > 0) flags.push(word);
  }
}

/** BuildKit's parseWords: whitespace-separated words, quotes and escapes kept as written. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (!inWord) {
      if (/\s/u.test(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
      continue;
    }
    if (/\s/u.test(ch)) {
      if (blankOk || word.length > 0) words.push(word);
      word = '';
      blankOk = false;
      inWord = false;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      blankOk = true;
    }
    if (ch === escape) {
      if (i + 1 === chars.length) continue;
      word += ch;
      ch = chars[++i]!;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** JSON exec form, or undefined when `rest` is not a JSON array (then it is shell form). */
export function parseJsonArray(rest: string): string[] | undefined {
  const trimmed = rest.trimStart();
  if (!trimmed.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new InstructionError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value;
}

export function commandLine(rest: string): CommandLine | undefined {
  if (rest === '') return undefined;
  const json = parseJsonArray(rest);
  return json ? { form: 'exec', args: json } : { form: 'shell', command: rest };
}

export function listArgs(rest: string): string[] {
  return parseJsonArray(rest) ?? (rest === '' ? [] : rest.split(WHITESPACE));
}

export function parseKeyValues(rest: string, keyword: string, escape: string): { key: string; value: string }[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) throw new InstructionError(`${keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const [key, value] = splitOnce(rest, WHITESPACE);
    if (value === undefined) throw new InstructionError(`${keyword} must have two arguments`);
    return [{ key, value }];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) throw new InstructionError(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    if (eq === 0) throw new InstructionError(`${keyword} names can not be blank`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}

export function splitOnce(s: string, re: RegExp): [string, string | undefined] {
  const m = re.exec(s);
  if (!m) return [s, undefined];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

export type FlagKind = 'bool' | 'string' | 'strings';

/** BuildKit's BFlags: declared flags only, bool flags take an optional =true/false. */
export function parseFlags(flags: string[], spec: Record<string, FlagKind>): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const arg of flags) {
    if (!arg.startsWith('--')) throw new InstructionError(`arg should start with -- : ${arg}`);
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const value = eq >= 0 ? body.slice(eq + 1) : undefined;
    const kind = spec[name];
    if (!kind) throw new InstructionError(`unknown flag: ${name}`);
    if (used.has(name) && kind !== 'strings') throw new InstructionError(`duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      if (value === '') throw new InstructionError(`missing a value on flag: ${name}`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new InstructionError(`expecting boolean value for flag ${name}, not: ${value}`);
      used.set(name, [v]);
    } else {
      if (value === undefined) throw new InstructionError(`missing a value on flag: ${name}`);
      used.set(name, [...(used.get(name) ?? []), value]);
    }
  }
  return used;
}

/** Go's time.ParseDuration, in nanoseconds (the image config unit). */
export function parseDuration(flag: string, value: string | undefined): number {
  if (value === undefined || value === '' || value === '0') return 0;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(value))) {
    total += parseFloat(m[1]!) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== value.length || consumed === 0) throw new InstructionError(`time: invalid duration "${value}"`);
  total = Math.round(total);
  if (total !== 0 && total < 1e6) throw new InstructionError(`Interval "${flag}" cannot be less than 1ms`);
  return total;
}
