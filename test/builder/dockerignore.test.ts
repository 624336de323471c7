import { describe, expect, test } from 'vitest';
import { chooseIgnoreFile, parseDockerignore, readIgnorePatterns } from '@tsbuild/builder';

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

  test('character classes and escapes', () => {
    const m = parseDockerignore('file[0-9].txt\nlit\\*\n[!a]b\n');
    expect(m.ignores('file3.txt')).toBe(true);
    expect(m.ignores('fileX.txt')).toBe(false);
    expect(m.ignores('lit*')).toBe(true);
    expect(m.ignores('litx')).toBe(false);
    expect(m.ignores('cb')).toBe(true);
    expect(m.ignores('ab')).toBe(false);
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
