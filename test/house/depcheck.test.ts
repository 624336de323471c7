import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/tsbuildCli.js';

/**
 * The rules of the house (ARCHITECTURE.md), read from the imports themselves,
 * as go-containerregistry's depcheck_test does: a wrong import fails here,
 * not in a review.
 */

const PACKAGES = ['oci-layout', 'registry', 'inspect-tui', 'builder'] as const;
type PackageName = (typeof PACKAGES)[number];

/** Which workspace packages each package may import (by name, never by path). */
const MAY_IMPORT: Record<PackageName, PackageName[]> = {
  'oci-layout': [],
  registry: ['oci-layout'],
  'inspect-tui': ['oci-layout', 'registry'],
  builder: ['oci-layout', 'registry', 'inspect-tui'],
};

/**
 * Tests that reach into inspect-tui's TUI internals (components and view state that are not its
 * public API). Issue 11 asks for tests to use index.ts only; these stay listed until that lands,
 * so that no new one can join them unnoticed.
 */
const TEST_INTERNAL_IMPORTS = new Set([
  'test/inspect-tui/diveJson.test.ts',
  'test/inspect-tui/layerFile.test.ts',
  'test/inspect-tui/tui.test.tsx',
]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'corpus') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|mjs)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts')) out.push(path);
  }
  return out;
}

/** Every module specifier a file imports or re-exports, statically or with import(). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const forms = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of text.matchAll(forms)) specifiers.push((match[1] ?? match[2] ?? match[3])!);
  return specifiers;
}

const repoPath = (file: string) => relative(REPO_ROOT, file);

/** The violations of the import rules in `files`, as lines `file: specifier (why)`. */
function violations(files: string[], check: (file: string, specifier: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const specifier of importsOf(file)) {
      const why = check(file, specifier);
      if (why) out.push(`${repoPath(file)}: ${specifier} (${why})`);
    }
  }
  return out;
}

function packageRule(pkg: PackageName, file: string, specifier: string): string | undefined {
  const named = /^@tsbuild\/([^/]+)(\/.*)?$/.exec(specifier);
  if (named) {
    if (named[2]) return 'other packages only through their index';
    if (named[1] === pkg || !MAY_IMPORT[pkg].includes(named[1] as PackageName)) return `${pkg} may not import ${named[1]}`;
    return undefined;
  }
  if (specifier.startsWith('.')) {
    const target = relative(join(REPO_ROOT, 'packages', pkg), join(file, '..', specifier));
    if (target.startsWith('..')) return 'a relative path out of the package';
  }
  return undefined;
}

/**
 * Inside builder: layers/ (trees to layers) is below runtime/ (containers), which is below
 * executor/ (builds); each may import those below it, never those above. cache/ (step keys,
 * local and shared build caches) is below executor/ too: the build asks it, never the reverse.
 */
const BELOW: Record<string, string[]> = { layers: ['runtime', 'executor', 'cache'], runtime: ['executor'], cache: ['executor'] };

function layeringRule(folder: string): (file: string, specifier: string) => string | undefined {
  return (file, specifier) => {
    if (!specifier.startsWith('.')) return undefined;
    const target = relative(join(REPO_ROOT, 'packages', 'builder', 'src'), join(file, '..', specifier));
    const above = BELOW[folder]!.find((other) => target.startsWith(`${other}/`));
    return above ? `${folder} may not import the ${above}` : undefined;
  };
}

function testRule(file: string, specifier: string): string | undefined {
  if (!specifier.includes('packages/')) return undefined;
  return TEST_INTERNAL_IMPORTS.has(repoPath(file)) ? undefined : 'tests import packages by name (@tsbuild/...), through their index';
}

describe('the rules of the house hold in every import', () => {
  for (const pkg of PACKAGES) {
    test(`${pkg} imports only ${MAY_IMPORT[pkg].join(', ') || 'no workspace package'}, by name`, () => {
      const files = sourceFiles(join(REPO_ROOT, 'packages', pkg, 'src'));
      expect(files.length).toBeGreaterThan(0);
      expect(violations(files, (file, specifier) => packageRule(pkg, file, specifier))).toEqual([]);
    });
  }

  for (const folder of Object.keys(BELOW)) {
    test(`builder/src/${folder} never imports builder/src/${BELOW[folder]!.join(' or ')}`, () => {
      const files = sourceFiles(join(REPO_ROOT, 'packages', 'builder', 'src', folder));
      expect(files.length).toBeGreaterThan(0);
      expect(violations(files, layeringRule(folder))).toEqual([]);
    });
  }

  test('tests import packages by name, not by path into their sources', () => {
    const files = sourceFiles(join(REPO_ROOT, 'test'));
    expect(violations(files, testRule)).toEqual([]);
    for (const listed of TEST_INTERNAL_IMPORTS) {
      expect(importsOf(join(REPO_ROOT, listed)).some((s) => s.includes('packages/')), `${listed} is listed but imports no internals`).toBe(true);
    }
  });

  test('the checker sees a wrong import', () => {
    expect(packageRule('oci-layout', join(REPO_ROOT, 'packages/oci-layout/src/x.ts'), '@tsbuild/registry')).toBeDefined();
    expect(packageRule('registry', join(REPO_ROOT, 'packages/registry/src/x.ts'), '../../oci-layout/src/digest.js')).toBeDefined();
    expect(packageRule('inspect-tui', join(REPO_ROOT, 'packages/inspect-tui/src/x.ts'), '@tsbuild/builder')).toBeDefined();
    expect(layeringRule('runtime')(join(REPO_ROOT, 'packages/builder/src/runtime/x.ts'), '../executor/buildImage.js')).toBeDefined();
    expect(layeringRule('layers')(join(REPO_ROOT, 'packages/builder/src/layers/x.ts'), '../runtime/snapshotter.js')).toBeDefined();
    expect(testRule(join(REPO_ROOT, 'test/e2e/x.test.ts'), '../../packages/builder/src/cli/main.js')).toBeDefined();
  });
});
