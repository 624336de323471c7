// Push and pull of a 100+ MB image to/from a local docker-registry, tsbuild against
// `skopeo copy` each way, and a pull whose layers are already in the store (#4).
import { join } from 'node:path';
import { ratioTarget, summarise, workTarget } from './benchReport.mjs';
import { checkedOutput } from './checkedOutput.mjs';
import { startupCase } from './debianBuildBench.mjs';
import { blobPath, imageManifest } from './ociManifest.mjs';
import { startRegistry } from './registryServer.mjs';
import { benchCase, runRounds } from './runRounds.mjs';

const REPOSITORY = 'bench/image:latest';

/** The image's config and layers, as stored (compressed): what travels over the wire. */
function imageBlobs(ociDir, name) {
  const manifest = imageManifest(ociDir, name);
  return [manifest.config, ...manifest.layers].map((d) => ({ ...d, path: blobPath(ociDir, d.digest) }));
}

export async function registryGroup(ctx) {
  const image = ctx.nginxImage ?? ctx.debianBase().image;
  const ociDir = ctx.lowercase(join(image.store, 'oci'));
  const tsbuild = (root, ...args) => ['node', ctx.tsbuildBin, '--root', root, ...args];
  const blobs = imageBlobs(ociDir, image.name);
  const floor = (...args) => ['bash', join(ctx.repo, 'bench/transferFloor.sh'), ...args];
  let registry;
  const push = () => tsbuild(image.store, 'push', '-q', '--tls-verify', 'false', image.name, `docker://${registry.host}/${REPOSITORY}`);
  const freshRegistry = async () => {
    await registry?.stop();
    registry = await startRegistry(join(ctx.work, 'registry'));
  };
  try {
    // Every push goes to an empty registry, so neither tool finds a blob already there.
    const pushes = [
      benchCase({ key: 'push-skopeo', tool: 'skopeo', caseName: 'push: copy oci:STORE -> docker://', root: join(ctx.work, 'registry'), before: freshRegistry,
        argv: () => ['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${ociDir}:${image.name}`, `docker://${registry.host}/${REPOSITORY}`] }),
      benchCase({ key: 'push-tsbuild', tool: 'tsbuild', caseName: 'push', anchor: 'push-skopeo', root: join(ctx.work, 'registry'), before: freshRegistry,
        argv: push }),
      benchCase({ key: 'push-floor', tool: 'curl', caseName: 'push floor: only the blob uploads, all at once', anchor: 'push-skopeo', root: join(ctx.work, 'registry'), before: freshRegistry,
        argv: () => floor('push', registry.host, 'bench/image', ...blobs.map((b) => b.path)) }),
    ];
    await runRounds(pushes, ctx);

    await freshRegistry();
    checkedOutput(push());
    const source = `${registry.host}/${REPOSITORY}`;
    const pulls = [
      benchCase({ key: 'pull-skopeo', tool: 'skopeo', caseName: 'pull: copy docker:// -> oci:DIR', root: join(ctx.work, 'pull', 'skopeo'),
        argv: (root) => ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${source}`, `oci:${ctx.lowercase(root)}:image`] }),
      benchCase({ key: 'pull-tsbuild', tool: 'tsbuild', caseName: 'pull into an empty store', anchor: 'pull-skopeo', root: join(ctx.work, 'pull', 'tsbuild'),
        argv: (root) => tsbuild(root, 'pull', '-q', '--tls-verify', 'false', source) }),
      benchCase({ key: 'pull-floor', tool: 'curl', caseName: 'pull floor: only the blob downloads, all at once, fsynced', anchor: 'pull-skopeo', root: join(ctx.work, 'pull', 'floor'),
        argv: (root) => floor('pull', registry.host, 'bench/image', root, ...blobs.map((b) => b.digest)) }),
    ];
    await runRounds(pulls, ctx);
    const keep = () => {};
    const again = [
      benchCase({ ...pulls[0], key: 'repull-skopeo', caseName: 'pull again: every blob already in DIR', before: keep }),
      benchCase({ ...pulls[1], key: 'repull-tsbuild', caseName: 'pull again: every layer already in the store', anchor: 'repull-skopeo', before: keep }),
      startupCase(ctx, 'registry-startup'),
    ];
    await runRounds(again, ctx);

    const rows = [...pushes, ...pulls.slice(0, 2), ...again, pulls[2]].map(summarise);
    return {
      title: 'Push and pull through a local docker-registry (#4)',
      parameters: `${image.label}, ${(blobs.reduce((sum, b) => sum + b.size, 0) / 1024 ** 2).toFixed(0)} MiB compressed; docker-registry on 127.0.0.1 (plain HTTP), `
        + 'a fresh one for every push run; pulls into an empty store / OCI layout each run.',
      rows,
      targets: [
        ratioTarget(rows, 'push-tsbuild', 0.7, 'registry (#4)'),
        ratioTarget(rows, 'pull-tsbuild', 0.7, 'registry (#4)'),
        workTarget(rows, 'repull-tsbuild', 'registry-startup', 0.2, 'registry (#4)'),
      ],
    };
  } finally {
    await registry?.stop();
  }
}
