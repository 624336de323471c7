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
import { dirname, join, resolve } from 'node:path';

const root = new URL('../', import.meta.url);
const dependencies = (pkg) => Object.keys(JSON.parse(readFileSync(new URL(`packages/${pkg}/package.json`, root), 'utf8')).dependencies ?? {});
const external = ['builder', 'oci-layout', 'registry'].flatMap(dependencies).filter((name) => !name.startsWith('@tsbuild/') && name !== 'commander');
const outdir = new URL('packages/builder/dist/bundle/', root).pathname;

/** The modules a package's index re-exports, and the relative imports of each module, from tsc's output. */
function moduleGraph(dist) {
  const importsOf = (file) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[1]));
  const closure = (file, seen = new Set()) => {
    if (!seen.has(file)) {
      seen.add(file);
      for (const dep of importsOf(file)) closure(dep, seen);
    }
    return seen;
  };
  return { reexported: importsOf(join(dist, 'index.js')), closure };
}

/**
 * oci-layout's modules that need none of its tar codec (tarHeader.js): the store, locks, processes, the runtime spec.
 * esbuild splits code by module, and every `import {…} from '@tsbuild/oci-layout'` reaches the whole index, so
 * `run` compiled the tar reader and writer, the layer appliers and the archive transports with the store (#13).
 * An import whose names all come from these modules is pointed at an index of them alone.
 */
async function codecFreeIndex() {
  const dist = new URL('packages/oci-layout/dist/', root).pathname;
  const { reexported, closure } = moduleGraph(dist);
  const codec = join(dist, 'tarHeader.js');
  const modules = reexported.filter((file) => !closure(file).has(codec));
  const names = new Set();
  for (const file of modules) for (const name of Object.keys(await import(file))) names.add(name);
  return { modules, names };
}

/**
 * The names a module takes from '@tsbuild/oci-layout' in its `import {…} from` statements (`static`) or its
 * `{…} = await import()` calls; undefined when it uses the package in any other way.
 */
function namesImported(text, statically) {
  const forms = [...text.matchAll(/(?:import \{([^}]*)\} from |const \{([^}]*)\} = await import\()'@tsbuild\/oci-layout'/g)];
  if (forms.length !== text.split("'@tsbuild/oci-layout'").length - 1) return undefined;
  return forms.flatMap((m) => ((statically ? m[1] : m[2]) ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((item) => item.split(/\s+as\s+|\s*:\s*/)[0]));
}

const codecFreeImports = {
  name: 'codec-free-oci-layout',
  async setup(b) {
    const { modules, names } = await codecFreeIndex();
    b.onResolve({ filter: /^@tsbuild\/oci-layout$/ }, (args) => {
      const imported = namesImported(readFileSync(args.importer, 'utf8'), args.kind === 'import-statement');
      return imported?.every((name) => names.has(name)) ? { path: 'oci-layout-without-codec', namespace: 'codec-free' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'codec-free' }, () => ({ contents: modules.map((file) => `export * from ${JSON.stringify(file)};`).join('\n'), resolveDir: dirname(modules[0]), loader: 'js' }));
  },
};

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
  plugins: [codecFreeImports],
  // commander's require() of Node's built-ins, now in ES modules: esbuild's helper calls the `require` in scope. The banner
  // goes into every chunk, so each only declares it; a require is made when commander loads, in the one chunk that calls it.
  banner: { js: "import { createRequire as createRequireForCommonJs } from 'node:module'; const require = (id) => createRequireForCommonJs(import.meta.url)(id);" },
  logLevel: 'warning',
});
