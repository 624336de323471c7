#!/usr/bin/env node
import { statSync } from 'node:fs';

/**
 * `npm run build` bundles the CLI into dist/bundle (scripts/bundleCli.mjs): a few chunks to load
 * where dist/cli is ~110 modules, about 60 ms of every command's start-up. A `tsc -b` alone leaves
 * the bundle older than what it emitted; then tsc's modules run, never a stale bundle.
 */
function bundleIsCurrent() {
  const mtime = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
  const bundled = mtime('../dist/bundle/main.js');
  const sources = ['../tsconfig.tsbuildinfo', '../../oci-layout/tsconfig.tsbuildinfo', '../../registry/tsconfig.tsbuildinfo'];
  return bundled !== undefined && sources.every((path) => (mtime(path) ?? Infinity) <= bundled);
}

const { main } = await import(bundleIsCurrent() ? '../dist/bundle/main.js' : '../dist/cli/main.js');
main(process.argv).then((code) => { process.exitCode = code; });
