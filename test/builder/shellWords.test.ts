import { describe, expect, test } from 'vitest';
import { expandWord, expandWords, ExpansionError } from '@tsbuild/builder';

const vars: Record<string, string> = { HOME: '/root', EMPTY: '', NAME: 'file.tar.gz', SPACED: 'a  b' };
const lookup = (n: string) => vars[n];
const x = (w: string) => expandWord(w, lookup, '\\');

describe('expandWord', () => {
  test.each([
    ['$HOME/bin', '/root/bin'],
    ['${HOME}x', '/rootx'],
    ['$UNSET.', '.'],
    ['${UNSET:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${EMPTY-dflt}', ''],
    ['${UNSET-dflt}', 'dflt'],
    ['${HOME:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${UNSET:-$HOME}', '/root'],
    ['${NAME%.*}', 'file.tar'],
    ['${NAME%%.*}', 'file'],
    ['${NAME#*.}', 'tar.gz'],
    ['${NAME##*.}', 'gz'],
    ['${NAME/tar/zip}', 'file.zip.gz'],
    ['\\$HOME', '$HOME'],
    ["'$HOME'", '$HOME'],
    ['"$HOME"', '/root'],
    ['"a b"\'c d\'', 'a bc d'],
    ['"\\$HOME"', '$HOME'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['$1x', 'x'],
  ])('%s -> %s', (word, want) => {
    expect(x(word)).toBe(want);
  });

  test('${v:?msg} and ${v?msg} fail with the message', () => {
    expect(() => x('${UNSET:?must be set}')).toThrow(ExpansionError);
    expect(() => x('${UNSET:?must be set}')).toThrow('UNSET: must be set');
    expect(() => x('${EMPTY:?}')).toThrow('EMPTY: is not allowed to be empty');
    expect(x('${EMPTY?}')).toBe('');
    expect(x('${HOME:?x}')).toBe('/root');
  });

  test('syntax errors', () => {
    expect(() => x('"open')).toThrow(/double-quote/);
    expect(() => x("'open")).toThrow(/single-quote/);
    expect(() => x('${HOME:-x')).toThrow(/missing '}'/);
    expect(() => x('${HOME')).toThrow(ExpansionError);
    expect(() => x('${:-a}')).toThrow(/bad substitution/);
  });

  test('the escape character is configurable (# escape=`)', () => {
    expect(expandWord('`$HOME', lookup, '`')).toBe('$HOME');
    expect(expandWord('C:\\dir', lookup, '`')).toBe('C:\\dir');
  });

  test('options keep quotes, escapes or unset references', () => {
    expect(expandWord('"$HOME" \'x\'', lookup, '\\', { rawQuotes: true })).toBe('"/root" \'x\'');
    expect(expandWord('$UNSET ${UNSET:-a}', lookup, '\\', { skipUnsetEnv: true })).toBe('$UNSET ${UNSET:-a}');
    expect(expandWord('it\'s "$HOME"', lookup, '\\', { skipProcessQuotes: true })).toBe('it\'s "/root"');
  });
});

describe('expandWords', () => {
  test('splits on unquoted whitespace, also inside expanded values', () => {
    expect(expandWords('80 $SPACED "x y"', lookup, '\\')).toEqual(['80', 'a', 'b', 'x y']);
    expect(expandWords('"$SPACED"', lookup, '\\')).toEqual(['a  b']);
    expect(expandWords('a\\ b c', lookup, '\\')).toEqual(['a b', 'c']);
    expect(expandWords('  ', lookup, '\\')).toEqual([]);
  });
});

describe('expansion size', () => {
  const MiB = 1024 * 1024;
  const big: Record<string, string> = { A: 'x'.repeat(3 * MiB), B: 'y'.repeat(4 * MiB), X: 'x'.repeat(4096) };
  const expand = (w: string) => expandWord(w, (n) => big[n], '\\');

  test('an expansion may make up to 4 MiB characters, and no more, however it grows', () => {
    expect(expand('$B')).toHaveLength(4 * MiB);
    for (const word of ['$A$A', '"$A$A"', '${A}-$A', 'z$B', '${X//x/$X}', '${X/x/$B}']) {
      expect(() => expand(word)).toThrow(new ExpansionError('variable expansion makes more than 4194304 characters'));
    }
    expect(() => expandWords('$A $A', (n) => big[n], '\\')).toThrow(ExpansionError);
  });
});

describe('patterns of ${v#p}, ${v%p} and ${v/p/r}', () => {
  test('many stars against a long value that almost matches end at once (no backtracking)', () => {
    const value = 'a'.repeat(20000);
    const lookup = (n: string) => (n === 'A' ? value : undefined);
    // A backtracking regexp tries every way to place thirty stars among 20,000 characters before it gives up.
    const stars = `${'*a'.repeat(30)}x`;
    for (const op of ['#', '##', '%', '%%']) expect(expandWord(`\${A${op}${stars}}`, lookup, '\\')).toBe(value);
    for (const op of ['/', '//']) expect(expandWord(`\${A${op}${stars}/r}`, lookup, '\\')).toBe(value);
    expect(expandWord(`\${A#${'*a'.repeat(30)}}`, lookup, '\\')).toBe('a'.repeat(19970));
    expect(expandWord(`\${A##${'*a'.repeat(30)}}`, lookup, '\\')).toBe('');
    expect(expandWord(`\${A/${'a'.repeat(3)}/b}`, lookup, '\\')).toBe(`b${'a'.repeat(19997)}`);
  });
});
