import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createIgnoreMatcher, IgnorePatternError, readIgnorePatterns } from '@tsbuild/builder';
import { BUILDKIT_DOCKERFILE_FIXTURES } from '../helpers/fixtures.js';

/** moby/patternmatcher's own tables (patternmatcher_test.go, ignorefile_test.go), extracted as data. */
const DIR = join(BUILDKIT_DOCKERFILE_FIXTURES, 'dockerignore');

interface MatchRow {
  test: string;
  patterns: string[];
  path: string;
  /** "error": the patterns are refused (patternmatcher refuses some only on first match; we refuse them up front). */
  expect: boolean | 'error';
}

interface ReadAllRow {
  test: string;
  content: string;
  expected: string[];
}

const matchRows = JSON.parse(readFileSync(join(DIR, 'patternmatcher-tables.json'), 'utf8')) as MatchRow[];
const readAllRows = JSON.parse(readFileSync(join(DIR, 'ignorefile-readall.json'), 'utf8')) as ReadAllRow[];

test('the tables hold the 140 rows they had when extracted', () => {
  expect(matchRows.length + readAllRows.length).toBe(140);
});

describe('patternmatcher tables', () => {
  test.each(matchRows.map((r, i) => [i, r.test, JSON.stringify(r.patterns), JSON.stringify(r.path), String(r.expect), r] as const))(
    '#%i %s: %s on %s -> %s',
    (_i, _test, _patterns, _path, _want, row) => {
      if (row.expect === 'error') {
        expect(() => createIgnoreMatcher(row.patterns)).toThrow(IgnorePatternError);
      } else {
        expect(createIgnoreMatcher(row.patterns).ignores(row.path)).toBe(row.expect);
      }
    },
  );
});

describe('ignorefile.ReadAll table', () => {
  test.each(readAllRows.map((r) => [r.test, r] as const))('%s', (_name, row) => {
    expect(readIgnorePatterns(row.content)).toEqual(row.expected);
  });
});
