// A fully cached build of samples/nginx on a fresh store from a registry cache another
// runner exported (#10): tsbuild --cache-from against buildah bud --cache-from on the same
// setup, and against a plain `tsbuild pull` of the final image (the floor: the final layers
// must come down anyway). Every run starts from an empty store / buildah root; the base
// comes from the same local docker-registry as the cache.
import { join } from 'node:path';
import { ratioTarget, summarise } from './benchReport.mjs';
import { checkedOutput } from './checkedOutput.mjs';
import { buildahStorage, DEBIAN_BASE } from './debianBase.mjs';
import { startRegistry } from './registryServer.mjs';
import { benchCase, emptyOutput, runRounds } from './runRounds.mjs';

/** tsbuild prints "Using cache" for the steps that make a layer: the RUN and two COPYs. */
const CACHED_LAYER_STEPS = 3;

export async function sharedCacheGroup(ctx) {
  const base = ctx.debianBase();
  const contextDir = join(ctx.repo, 'samples/nginx');
  const tsbuild = (root, ...args) => ['node', ctx.tsbuildBin, '--root', root, ...args];
  const registry = await startRegistry(join(ctx.work, 'sharedcache-registry'));
  try {
    const baseRef = `${registry.host}/bench/debian:bookworm`;
    const tsbuildCache = `${registry.host}/bench/nginx:tsbuild-cache`;
    const buildahCache = `${registry.host}/bench/nginx-buildah-cache`;
    const image = `${registry.host}/bench/nginx:1`;
    const buildArg = ['--build-arg', `BASE=${baseRef}`];
    ctx.progress('shared cache: pushing the base, building samples/nginx cold with each tool to export its cache');
    checkedOutput(tsbuild(base.store, 'push', '-q', '--tls-verify', 'false', DEBIAN_BASE, `docker://${baseRef}`));
    const exporter = join(ctx.work, 'sharedcache-exporter');
    emptyOutput(exporter);
    checkedOutput(tsbuild(join(exporter, 'tsbuild'), 'build', '-q', '--tls-verify', 'false', ...buildArg, '--cache-to', `type=registry,ref=${tsbuildCache}`, '-t', image, contextDir));
    checkedOutput(tsbuild(join(exporter, 'tsbuild'), 'push', '-q', '--tls-verify', 'false', image));
    checkedOutput([...buildahStorage(join(exporter, 'buildah')), 'bud', '--layers', '--isolation', 'chroot', '-q', '--tls-verify=false', ...buildArg,
      '--cache-to', buildahCache, '-t', 'nginx', contextDir]);

    const hits = (run) => {
      const found = run.outputTail.match(/^--> Using cache$/gm)?.length ?? 0;
      return found === CACHED_LAYER_STEPS ? undefined : `${found} of ${CACHED_LAYER_STEPS} steps from the cache`;
    };
    // dpkg's last lines (within the kept output tail) show that the RUN step executed after all (either tool).
    const noAptRun = (run) => (/Setting up |Processing triggers/.test(run.outputTail) ? 'the RUN step executed (apt-get ran)' : undefined);
    const cases = [
      benchCase({ key: 'sharedcache-buildah', tool: 'buildah', caseName: 'nginx from a registry cache, empty root: bud --layers --cache-from, vfs',
        root: join(ctx.work, 'sharedcache', 'buildah'), check: noAptRun,
        argv: (root) => [...buildahStorage(root), 'bud', '--layers', '--isolation', 'chroot', '--tls-verify=false', ...buildArg, '--cache-from', buildahCache, '-t', 'nginx', contextDir] }),
      benchCase({ key: 'sharedcache-tsbuild', tool: 'tsbuild', caseName: 'nginx from a registry cache, empty store: build --cache-from', anchor: 'sharedcache-buildah',
        root: join(ctx.work, 'sharedcache', 'tsbuild'), check: (run) => noAptRun(run) ?? hits(run),
        argv: (root) => tsbuild(root, 'build', '--tls-verify', 'false', ...buildArg, '--cache-from', `type=registry,ref=${tsbuildCache}`, '-t', 'nginx', contextDir) }),
      benchCase({ key: 'sharedcache-pull', tool: 'tsbuild', caseName: 'pull of the final image into an empty store (floor)', anchor: 'sharedcache-buildah',
        root: join(ctx.work, 'sharedcache', 'pull'),
        argv: (root) => tsbuild(root, 'pull', '-q', '--tls-verify', 'false', image) }),
    ];
    await runRounds(cases, ctx);
    const rows = cases.map(summarise);
    return {
      title: 'samples/nginx fully cached from a registry cache on a fresh store (#10)',
      parameters: `samples/nginx FROM the Debian base pushed to a docker-registry on 127.0.0.1 (plain HTTP); another store (buildah root) `
        + 'built it once and exported its cache there (tsbuild: --cache-to type=registry; buildah: --cache-to REPO). Each run starts empty.',
      rows,
      targets: [
        ratioTarget(rows, 'sharedcache-tsbuild', 0.5, 'shared cache (#10)'),
        ratioTarget(rows, 'sharedcache-tsbuild', 1.2, 'shared cache (#10)', 'sharedcache-pull'),
      ],
    };
  } finally {
    await registry.stop();
  }
}
