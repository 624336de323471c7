import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/tsbuildCli.js';

/**
 * The CLI takes an exit code from a ToolError (oci-layout) and from nothing
 * else: an error class that declares an `exitCode` field of its own would
 * exit 1, silently. This reads the sources so such a class fails here
 * (records that hold a container's exit code are no error fields, and not matched).
 */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

test('only ToolError declares an exitCode field', () => {
  const packages = join(REPO_ROOT, 'packages');
  const offenders = readdirSync(packages)
    .flatMap((pkg) => sources(join(packages, pkg, 'src')))
    .filter((file) => /\breadonly\s+exitCode\b|^\s*exitCode\s*=/m.test(readFileSync(file, 'utf8')))
    .map((file) => relative(REPO_ROOT, file));
  expect(offenders).toEqual(['packages/oci-layout/src/toolError.ts']);
});
