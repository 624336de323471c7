// Builds FROM the Debian base, tsbuild against `buildah bud --layers` (vfs): samples/nginx cold
// (apt-get over the network) and fully cached, and a RUN step that writes 10,000 files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioTarget, summarise, workTarget } from './benchReport.mjs';
import { buildahStorage, DEBIAN_BASE } from './debianBase.mjs';
import { benchCase, runRounds } from './runRounds.mjs';

const BUILD_ARG = ['--build-arg', `BASE=${DEBIAN_BASE}`];
const RUN_FILES = 10000;

/** Each run starts from a store holding the base image only, so nothing is cached. */
function coldCases(ctx, base, { key, label, contextDir, tag }) {
  return [
    benchCase({ key: `${key}-buildah`, tool: 'buildah', caseName: `${label}: bud --layers, vfs`, root: join(ctx.work, key, 'buildah'),
      before: (root) => base.intoBuildahRoot(root),
      argv: (root) => [...buildahStorage(root), 'bud', '--layers', '--isolation', 'chroot', '-q', ...BUILD_ARG, '-t', tag, contextDir] }),
    benchCase({ key: `${key}-tsbuild`, tool: 'tsbuild', caseName: `${label}: build (gzip)`, anchor: `${key}-buildah`, root: join(ctx.work, key, 'tsbuild'),
      before: (root) => base.intoTsbuildStore(root),
      argv: (root) => ['node', ctx.tsbuildBin, '--root', root, 'build', '-q', ...BUILD_ARG, '-t', tag, contextDir] }),
  ];
}

/** The same commands again on the stores the last cold run left, so every step should be a
 * cache hit; not quiet, so that the tools' "Using cache" lines show which steps were.
 * cachedSteps: how many such lines a full hit prints, by tool (buildah caches every step,
 * tsbuild only those that make a layer). */
function cachedCases(cold, key, label, cachedSteps) {
  const keep = () => {};
  const check = (tool) => (run) => {
    const hits = run.outputTail.match(/Using cache/g)?.length ?? 0;
    return hits === cachedSteps[tool] ? undefined : `${hits} of ${cachedSteps[tool]} steps from the cache`;
  };
  return cold.map((c) => benchCase({ ...c, key: c.key.replace(/^[^-]+/, key), anchor: c.anchor?.replace(/^[^-]+/, key),
    caseName: c.caseName.replace(/^[^:]+/, label), before: keep, check: check(c.tool), argv: (root) => c.argv(root).filter((arg) => arg !== '-q') }));
}

/** What running tsbuild costs before it does anything: node, module loading, CLI parsing. */
export function startupCase(ctx, key) {
  return benchCase({ key, tool: 'tsbuild', caseName: 'start-up only (`images` on an empty store)', root: join(ctx.work, key),
    argv: (root) => ['node', ctx.tsbuildBin, '--root', root, 'images'] });
}

export async function nginxGroup(ctx) {
  const base = ctx.debianBase();
  const contextDir = join(ctx.repo, 'samples/nginx');
  const cold = coldCases(ctx, base, { key: 'nginx', label: 'samples/nginx, cold', contextDir, tag: 'nginx' });
  await runRounds(cold, ctx);
  const cached = [...cachedCases(cold, 'nginxcached', 'samples/nginx, fully cached', { buildah: 6, tsbuild: 3 }), startupCase(ctx, 'nginx-startup')];
  await runRounds(cached, ctx);
  ctx.nginxImage = { store: cold[1].root, name: 'localhost/nginx:latest', label: 'samples/nginx image (tsbuild, gzip)' };
  const rows = [...cold, ...cached].map(summarise);
  return {
    title: 'samples/nginx FROM the Debian base (#3)',
    parameters: `samples/nginx with \`--build-arg BASE=${DEBIAN_BASE}\`; the base is the cached debootstrap minbase tarball, imported (gzip). `
      + 'Cold: apt-get update/install over the network from deb.debian.org.',
    rows,
    targets: [
      ratioTarget(rows, 'nginx-tsbuild', 1.0, 'build (#3)'),
      ratioTarget(rows, 'nginxcached-tsbuild', 0.2, 'build (#3)'),
      workTarget(rows, 'nginxcached-tsbuild', 'nginx-startup', 0.3, 'build (#3)'),
    ],
  };
}

export async function runFilesGroup(ctx) {
  const base = ctx.debianBase();
  const contextDir = join(ctx.work, 'runfiles-context');
  mkdirSync(contextDir, { recursive: true });
  writeFileSync(join(contextDir, 'Dockerfile'), `ARG BASE\nFROM \${BASE}\n`
    + `RUN mkdir /many && cd /many && for i in $(seq 1 ${RUN_FILES}); do echo "file $i" > "f$i"; done\n`);
  const cases = coldCases(ctx, base, { key: 'runfiles', label: `RUN writing ${RUN_FILES} files`, contextDir, tag: 'runfiles' });
  await runRounds(cases, ctx);
  const rows = cases.map(summarise);
  return {
    title: `RUN that writes ${RUN_FILES} files (#3)`,
    parameters: `Dockerfile: FROM the Debian base, \`RUN mkdir /many && cd /many && for i in $(seq 1 ${RUN_FILES}); do echo "file $i" > "f$i"; done\`; `
      + 'each run from a store holding only the base.',
    rows,
    targets: [ratioTarget(rows, 'runfiles-tsbuild', 0.5, 'build (#3)')],
  };
}
