import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { expandWord, expandWords, ExpansionError, type VariableLookup } from '@tsbuild/builder';
import { BUILDKIT_DOCKERFILE_FIXTURES } from '../helpers/fixtures.js';

/** BuildKit's own shell-lexer test data (frontend/dockerfile/shell), run the way lex_test.go runs it. */
const DIR = join(BUILDKIT_DOCKERFILE_FIXTURES, 'shell');

/** Like BuildKit's BuildEnvs: NAME=value, split at the first `=`, the last one wins. */
function lookupOf(envs: string[] | Record<string, string>): VariableLookup {
  const map = new Map(Array.isArray(envs) ? envs.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const) : Object.entries(envs));
  return (name) => map.get(name);
}

function lines(file: string): { text: string; line: number }[] {
  return readFileSync(join(DIR, file), 'utf8').split('\n').map((text, i) => ({ text, line: i + 1 }));
}

/** The outcome of an expansion as the tables state it: the value, or "error" for an ExpansionError. */
function outcome<T>(expand: () => T): T | 'error' {
  try {
    return expand();
  } catch (e) {
    if (e instanceof ExpansionError) return 'error';
    throw e;
  }
}

describe('envVarTest (TestShellParser4EnvVars)', () => {
  const vars = lookupOf(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
  const rows = lines('envVarTest')
    .filter((l) => !l.text.startsWith('#') && l.text.trim() !== '')
    .map((l) => {
      const parts = l.text.trim().split('|');
      expect(parts).toHaveLength(3);
      return { line: l.line, platform: parts[0]!.trim(), source: parts[1]!.trim(), expected: parts[2]!.trim() };
    });

  test('every row is for all platforms, Unix or Windows', () => {
    expect(rows.length).toBeGreaterThan(100);
    expect(rows.filter((r) => !['A', 'U', 'W'].includes(r.platform))).toEqual([]);
  });

  // Windows rows (W) are for BuildKit on Windows only, as lex_test.go skips them elsewhere.
  test.each(rows.filter((r) => r.platform !== 'W').map((r) => [r.line, r.source, r.expected] as const))('line %i: %s -> %s', (_line, source, expected) => {
    expect(outcome(() => expandWord(source, vars, '\\'))).toBe(expected);
  });
});

describe('wordsTest (TestShellParser4Words)', () => {
  const envs: string[] = [];
  const rows: { line: number; source: string; expected: string[]; envs: string[] }[] = [];
  const all = lines('wordsTest');
  for (const l of all) {
    // The file ends with a newline; the Go scanner yields no line after it.
    if (l.text.startsWith('#') || (l.text === '' && l.line === all.length)) continue;
    if (l.text.startsWith('ENV ')) {
      envs.push(l.text.slice(3).replace(/^ +/, ''));
      continue;
    }
    const parts = l.text.split('|');
    expect(parts).toHaveLength(2);
    rows.push({ line: l.line, source: parts[0]!.trim(), expected: parts[1]!.replace(/^ +/, '').split(','), envs: [...envs] });
  }

  test.each(rows.map((r) => [r.line, r.source, r.expected.join(','), r] as const))('line %i: %s -> %s', (_line, _source, _want, row) => {
    const got = outcome(() => expandWords(row.source, lookupOf(row.envs), '\\'));
    expect(got === 'error' ? ['error'] : got).toEqual(row.expected);
  });
});

interface LexRow {
  test: string;
  input: string;
  envs: Record<string, string>;
  expected?: string;
  expectedErr?: boolean;
  errContains?: string;
}

describe('lex_test.go tables', () => {
  const rows = JSON.parse(readFileSync(join(DIR, 'lex-tables.json'), 'utf8')) as LexRow[];
  test.each(rows.map((r, i) => [i, r.test, r.input, JSON.stringify(r.envs), r] as const))('#%i %s: %s with %s', (_i, _test, _input, _envs, row) => {
    const expand = () => expandWord(row.input, lookupOf(row.envs), '\\');
    if (row.expectedErr) {
      expect(expand).toThrow(ExpansionError);
      if (row.errContains) expect(expand).toThrow(row.errContains);
    } else {
      expect(expand()).toBe(row.expected);
    }
  });
});
