// Bundles tsbuild's CLI (packages/builder/dist/cli/main.js, what `tsc -b` emitted) into
// packages/builder/dist/bundle: a command loads one chunk per lazily imported command module
// instead of ~110 separate files, about 60 ms of its start-up on Node 20's ESM loader (#14, #13).
// Third-party packages stay external (they load as installed, and bundling them gained nothing),
// except commander, which every command loads first: bundled, its seven CommonJS files are no
// longer resolved, wrapped and scanned for exports by Node's CommonJS-in-ESM loader, about 6 ms
// of CPU in each start-up, conmon's exit command's included (#13).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';

const root = new URL('../', import.meta.url);
const dependencies = (pkg) => Object.keys(JSON.parse(readFileSync(new URL(`packages/${pkg}/package.json`, root), 'utf8')).dependencies ?? {});
const external = ['builder', 'oci-layout', 'registry'].flatMap(dependencies).filter((name) => !name.startsWith('@tsbuild/') && name !== 'commander');
const outdir = new URL('packages/builder/dist/bundle/', root).pathname;

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [new URL('packages/builder/dist/cli/main.js', root).pathname],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // commander's require() of Node's built-ins, now in ES modules: esbuild's helper calls the `require` in scope. The banner
  // goes into every chunk, so each only declares it; a require is made when commander loads, in the one chunk that calls it.
  banner: { js: "import { createRequire as createRequireForCommonJs } from 'node:module'; const require = (id) => createRequireForCommonJs(import.meta.url)(id);" },
  logLevel: 'warning',
});
