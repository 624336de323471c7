import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { chooseIgnoreFile, IgnorePatternError, parseDockerignore, readIgnorePatterns, type IgnoreMatcher } from '@tsbuild/builder';
import { tsbuild } from '../helpers/tsbuildCli.js';

describe('readIgnorePatterns', () => {
  test('comments, blank lines, leading slash, path cleaning, exceptions', () => {
    const text = '\uFEFF# comment\n\n  /build/  \n!./keep//me/\n a/../b \n # not a comment\n/\n';
    expect(readIgnorePatterns(text)).toEqual(['build', '!keep/me', 'b', '# not a comment', '/']);
  });
});

describe('parseDockerignore', () => {
  test('* and ? stay within one path component; a matched directory excludes its contents', () => {
    const m = parseDockerignore('*.log\nsrc/?.tmp\nnode_modules\n');
    expect(m.ignores('a.log')).toBe(true);
    expect(m.ignores('dir/a.log')).toBe(false);
    expect(m.ignores('src/x.tmp')).toBe(true);
    expect(m.ignores('src/xy.tmp')).toBe(false);
    expect(m.ignores('node_modules')).toBe(true);
    expect(m.ignores('node_modules/pkg/index.js')).toBe(true);
    expect(m.ignores('src/node_modules')).toBe(false);
  });

  test('** matches any number of directories', () => {
    const m = parseDockerignore('**/*.go\ndocs/**\na/**/z\n');
    expect(m.ignores('main.go')).toBe(true);
    expect(m.ignores('pkg/sub/x.go')).toBe(true);
    expect(m.ignores('docs/x/y.md')).toBe(true);
    expect(m.ignores('docs')).toBe(false);
    expect(m.ignores('a/z')).toBe(true);
    expect(m.ignores('a/b/c/z')).toBe(true);
    expect(m.ignores('a/b/c/zz')).toBe(false);
  });

  test('a pattern of many ** and * is matched at once against a deep path that almost matches (no backtracking)', () => {
    // A backtracking regexp tries every way to split 60 directories among 30 `**` before it gives up.
    const m = parseDockerignore(`${'**/'.repeat(30)}x\n${'*a'.repeat(30)}b\n`);
    const deep = `${'a/'.repeat(60)}y`;
    expect(m.ignores(deep)).toBe(false);
    expect(m.ignores(`${'a/'.repeat(60)}x`)).toBe(true);
    expect(m.ignores('a'.repeat(100))).toBe(false);
    expect(m.ignores('aab')).toBe(false);
    expect(m.ignores(`${'a'.repeat(30)}b`)).toBe(true);
    // Patterns whose first and last characters the path has: the whole path is matched.
    const inner = parseDockerignore(`x${'*a'.repeat(30)}*y\na/${'**/b/'.repeat(30)}x\n`);
    expect(inner.ignores(`x${'a'.repeat(28)}y`)).toBe(false);
    // A backtracking regexp tries every way to place thirty `a` among sixty before it finds `[^/]*y` cannot take `/y`.
    expect(inner.ignores(`x${'a'.repeat(60)}/y`)).toBe(false);
    expect(inner.ignores(`x${'a'.repeat(30)}y`)).toBe(true);
    expect(inner.ignores(`a/${'b/'.repeat(28)}x`)).toBe(false);
    expect(inner.ignores(`a/${'c/b/'.repeat(30)}x`)).toBe(true);
  });

  test('a pattern hundreds of thousands of characters long is matched like any other', () => {
    const m = parseDockerignore(`${'a'.repeat(500000)}*\n${'*'.repeat(500000)}x\n${'**/'.repeat(200000)}y\n`);
    expect(m.ignores('abc')).toBe(false);
    expect(m.ignores('a/b/x')).toBe(true);
    expect(m.ignores('a/b/y')).toBe(true);
    expect(m.ignores(`${'a'.repeat(500000)}b`)).toBe(true);
  });

  test('character classes and escapes', () => {
    const m = parseDockerignore('file[0-9].txt\nlit\\*\n[^a]b\n');
    expect(m.ignores('file3.txt')).toBe(true);
    expect(m.ignores('fileX.txt')).toBe(false);
    expect(m.ignores('lit*')).toBe(true);
    expect(m.ignores('litx')).toBe(false);
    expect(m.ignores('cb')).toBe(true);
    expect(m.ignores('ab')).toBe(false);
  });

  // Go's filepath.Match: only ^ negates; \ escapes inside and outside classes; regexp syntax is plain text.
  test.each([
    ['[!a]b', { '!b': true, ab: true, cb: false }],
    ['[^a]b', { '!b': true, ab: false, cb: true, '/b': false }],
    ['[a-c]x', { ax: true, bx: true, cx: true, dx: false, '-x': false }],
    ['[\\]]', { ']': true, '\\': false }],
    ['[\\-x]', { '-': true, x: true, w: false }],
    ['[\\a-\\c]', { b: true, d: false }],
    ['[*]', { '*': true, a: false }],
    ['[?]', { '?': true, a: false }],
    ['\\[x]', { '[x]': true, x: false }],
    ['\\*', { '*': true, a: false }],
    ['\\a\\b', { ab: true }],
    ['[α-ω]', { β: true, a: false }],
    ['a.b', { 'a.b': true, axb: false }],
    ['a^b', { 'a^b': true, ab: false }],
    ['(x)|y+$', { '(x)|y+$': true, x: false }],
    ['x[.]*', { 'x.': true, 'x.y': true, xy: false }],
    ['**.go', { 'x.go': true, 'a/b.go': true, 'a/b.goo': false }],
    ['**/[ab].txt', { 'a.txt': true, 'd/b.txt': true, 'd/c.txt': false }],
    ['dir/**', { 'dir/x': true, 'dir/x/y': true, dir: false }],
    ['[[:alpha:]]', { ':]': true, 'a]': true, a: false }],
  ] as [string, Record<string, boolean>][])('%s', (pattern, want) => {
    const m = parseDockerignore(`${pattern}\n`);
    const got = Object.fromEntries(Object.keys(want).map((p) => [p, m.ignores(p)]));
    expect(got).toEqual(want);
  });

  test.each([
    ['[', 'unterminated character class'],
    ['[a-', 'unterminated character class'],
    ['[^', 'unterminated character class'],
    ['a[bc', 'unterminated character class'],
    ['[\\', 'unterminated character class'],
    ['x\\', 'a trailing "\\" escapes nothing'],
    ['[]a]', '"]" must be escaped'],
    ['[-a]', '"-" must be escaped'],
    ['[a-]', '"]" must be escaped'],
    ['[a-b-c]', '"-" must be escaped'],
    ['[z-a]', 'reversed range "z-a"'],
    ['[Local-Only]/', 'reversed range "l-O"'],
    ['ok/**/[', 'unterminated character class'],
    ['![', 'unterminated character class'],
  ])('a malformed %j fails with the file and line', (pattern, reason) => {
    const text = `# header\nfine\n\n${pattern}\nalso-fine\n`;
    let err: unknown;
    try {
      parseDockerignore(text, 'ctx/.dockerignore');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IgnorePatternError);
    const message = (err as Error).message;
    expect(message.startsWith('ctx/.dockerignore:4: bad pattern ')).toBe(true);
    expect(message).toContain(reason);
    expect(message).not.toContain('\n');
  });

  test('the last matching pattern wins; exceptions re-include', () => {
    const m = parseDockerignore('*.md\n!README.md\nREADME*.md\n!README-keep.md\n');
    expect(m.ignores('CHANGES.md')).toBe(true);
    expect(m.ignores('README.md')).toBe(true);
    expect(m.ignores('README-keep.md')).toBe(false);
  });

  test('an exception under an excluded directory; couldMatchInside tells a walk what it may prune', () => {
    const m = parseDockerignore('vendor\n!vendor/keep/**\nbuild\n');
    expect(m.ignores('vendor/other/x')).toBe(true);
    expect(m.ignores('vendor/keep/x/y')).toBe(false);
    expect(m.couldMatchInside('vendor')).toBe(true);
    expect(m.couldMatchInside('vendor/other')).toBe(false);
    expect(m.couldMatchInside('build')).toBe(false);
    expect(parseDockerignore('a\n').couldMatchInside('a')).toBe(false);
  });

  test('everything but some files', () => {
    const m = parseDockerignore('*\n!src\n!Dockerfile\n');
    expect(m.ignores('README.md')).toBe(true);
    expect(m.ignores('src/a/b.c')).toBe(false);
    expect(m.ignores('Dockerfile')).toBe(false);
  });

  test('a lone ! is an error', () => {
    expect(() => parseDockerignore('!\n')).toThrow('illegal exclusion pattern: "!"');
  });
});

describe('chooseIgnoreFile', () => {
  test('<Dockerfile>.dockerignore beside the Dockerfile wins over <context>/.dockerignore', () => {
    const files = new Set(['/ctx/.dockerignore', '/df/app.Dockerfile.dockerignore']);
    const exists = (p: string) => files.has(p);
    expect(chooseIgnoreFile('/ctx', '/df/app.Dockerfile', exists)).toBe('/df/app.Dockerfile.dockerignore');
    expect(chooseIgnoreFile('/ctx', '/ctx/Dockerfile', exists)).toBe('/ctx/.dockerignore');
    expect(chooseIgnoreFile('/other', '/other/Dockerfile', exists)).toBeUndefined();
  });
});

function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/** The files our matcher keeps, walking the way a context sender would (pruning dirs). */
function keptFiles(root: string, m: IgnoreMatcher, dir = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (m.ignores(rel) && !m.couldMatchInside(rel)) continue;
      out.push(...keptFiles(root, m, rel));
    } else if (!m.ignores(rel)) out.push(rel);
  }
  return out.sort();
}

describe('against buildah', () => {
  test('COPY . with a .dockerignore sends the same files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-ignore-oracle-'));
    try {
      const ctx = join(dir, 'ctx');
      const files = [
        'a.log', 'src/a.log', 'src/a/b.go', 'main.go', 'README.md', 'CHANGES.md', 'README-keep.md', 'docs/x/y.md',
        'file3.txt', 'fileX.txt', 'vendor/keep/x/y', 'vendor/other/z', 'node_modules/p/i.js', 'tmp/cache/1', 'tmp/keep',
        'deep/a/b/c/z', 'deep/a/zz', 'q1', 'q22', 'b!1', 'ba1', 'bc1', 'nb1', 'nc1', 'r]', 'rx', 'star*', 'stars', 'u.cfg', 'uxcfg',
      ];
      for (const f of files) {
        mkdirSync(dirname(join(ctx, f)), { recursive: true });
        writeFileSync(join(ctx, f), f);
      }
      const ignore = [
        '# build junk', '*.log', '**/*.go', 'vendor', '!vendor/keep/**', '*.md', '!README*.md', 'README*.md',
        '!README-keep.md', 'file[0-9].txt', '/node_modules/', 'tmp/*', '!tmp/keep', 'deep/**/z', 'q?', 'b[!a]1', 'n[^b]1',
        'r[\\]]', 'star\\*', 'u.cfg', '',
      ].join('\n');
      writeFileSync(join(ctx, '.dockerignore'), ignore);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
      const storage = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
      const out = join(dir, 'out');
      execFileSync('buildah', [...storage, 'bud', '--isolation', 'chroot', '-o', `type=local,dest=${out}`, ctx], { stdio: 'pipe' });
      const theirs = filesUnder(out);
      const ours = keptFiles(ctx, parseDockerignore(ignore));
      expect(ours).toEqual(theirs);
      expect(ours).toContain('vendor/keep/x/y');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tsbuild build with a malformed .dockerignore', () => {
  test('fails with one line naming the file and line, before any step runs', async () => {
    const ctx = mkdtempSync(join(tmpdir(), 'tsbuild-ignore-bad-'));
    try {
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
      writeFileSync(join(ctx, '.dockerignore'), '# junk\n*.log\nbuild/[a-\n');
      const r = await tsbuild(['--root', join(ctx, 'store'), '-q', '-t', 'bad-ignore', ctx], { cwd: ctx });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toBe('tsbuild: error: .dockerignore:3: bad pattern "build/[a-": unterminated character class (missing "]")\n');
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });
});
