// Push and pull of a 100+ MB image to/from a docker-registry, tsbuild against `skopeo copy` and
// the curl floor each way: on loopback, and over a simulated WAN (the registry in a network
// namespace of its own behind a veth shaped with tbf, a delaying proxy for the round trip),
// plus a pull whose layers are already in the store (#4, #14).
import { join } from 'node:path';
import { ratioTarget, summarise, workTarget } from './benchReport.mjs';
import { checkedOutput } from './checkedOutput.mjs';
import { startupCase } from './debianBuildBench.mjs';
import { blobPath, imageManifest } from './ociManifest.mjs';
import { startRegistry } from './registryServer.mjs';
import { benchCase, runRounds } from './runRounds.mjs';
import { createWanLink, startDelayProxy } from './wanLink.mjs';

const REPOSITORY = 'bench/image:latest';
const WAN_RATE_MBIT = 200;
const WAN_RTT_MS = 40;

/** The image's config and layers, as stored (compressed): what travels over the wire. */
function imageBlobs(ociDir, name) {
  const manifest = imageManifest(ociDir, name);
  return [manifest.config, ...manifest.layers].map((d) => ({ ...d, path: blobPath(ociDir, d.digest) }));
}

/**
 * Push rows (each into a fresh, empty registry), then pull rows (into an empty store or
 * directory) through one link. `link.start()` starts a registry and resolves to the host:port
 * clients use; `link.stop()` ends it. Keys are prefixed with `prefix`.
 */
async function transferCases(ctx, { image, ociDir, blobs, link, prefix, label }) {
  const tsbuild = (root, ...args) => ['node', ctx.tsbuildBin, '--root', root, ...args];
  const floor = (...args) => ['bash', join(ctx.repo, 'bench/transferFloor.sh'), ...args];
  let host;
  const push = () => tsbuild(image.store, 'push', '-q', '--tls-verify', 'false', image.name, `docker://${host}/${REPOSITORY}`);
  const freshRegistry = async () => {
    await link.stop();
    host = await link.start();
  };
  const key = (k) => `${prefix}${k}`;
  const root = join(ctx.work, `${prefix}registry`);
  const pushes = [
    benchCase({ key: key('push-skopeo'), tool: 'skopeo', caseName: `${label}push: copy oci:STORE -> docker://`, root, before: freshRegistry,
      argv: () => ['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${ociDir}:${image.name}`, `docker://${host}/${REPOSITORY}`] }),
    benchCase({ key: key('push-tsbuild'), tool: 'tsbuild', caseName: `${label}push`, anchor: key('push-skopeo'), root, before: freshRegistry, argv: push }),
    benchCase({ key: key('push-floor'), tool: 'curl', caseName: `${label}push floor: only the blob uploads, all at once`, anchor: key('push-skopeo'), root, before: freshRegistry,
      argv: () => floor('push', host, 'bench/image', ...blobs.map((b) => b.path)) }),
  ];
  await runRounds(pushes, ctx);

  await freshRegistry();
  checkedOutput(push());
  const source = () => `${host}/${REPOSITORY}`;
  const pulls = [
    benchCase({ key: key('pull-skopeo'), tool: 'skopeo', caseName: `${label}pull: copy docker:// -> oci:DIR`, root: join(ctx.work, `${prefix}pull`, 'skopeo'),
      argv: (dir) => ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${source()}`, `oci:${ctx.lowercase(dir)}:image`] }),
    benchCase({ key: key('pull-tsbuild'), tool: 'tsbuild', caseName: `${label}pull into an empty store`, anchor: key('pull-skopeo'), root: join(ctx.work, `${prefix}pull`, 'tsbuild'),
      argv: (dir) => tsbuild(dir, 'pull', '-q', '--tls-verify', 'false', source()) }),
    benchCase({ key: key('pull-floor'), tool: 'curl', caseName: `${label}pull floor: only the blob downloads, all at once, fsynced`, anchor: key('pull-skopeo'),
      root: join(ctx.work, `${prefix}pull`, 'floor'), argv: (dir) => floor('pull', host, 'bench/image', dir, ...blobs.map((b) => b.digest)) }),
  ];
  await runRounds(pulls, ctx);
  return { pushes, pulls };
}

/** What the link itself allows: every compressed byte once at the shaped rate, as a row beside the measured ones. */
function linkFloorRow(key, caseName, anchor, bytes) {
  const wallSeconds = (bytes * 8) / (WAN_RATE_MBIT * 1e6);
  return { key, tool: 'link', caseName, anchor, wallSeconds, minWallSeconds: wallSeconds, cpuSeconds: 0, peakRssBytes: 0, cpuPressure: null, runs: [], faults: [] };
}

export async function registryGroup(ctx) {
  const image = ctx.registryImage ?? ctx.nginxImage ?? ctx.debianBase().image;
  const ociDir = ctx.lowercase(join(image.store, 'oci'));
  const blobs = imageBlobs(ociDir, image.name);
  const bytes = blobs.reduce((sum, b) => sum + b.size, 0);
  let registry;
  const loopback = {
    start: async () => (registry = await startRegistry(join(ctx.work, 'registry'))).host,
    stop: async () => registry?.stop(),
  };
  const local = await transferCases(ctx, { image, ociDir, blobs, link: loopback, prefix: '', label: '' });
  await loopback.stop();

  const keep = () => {};
  await loopback.start();
  checkedOutput(['node', ctx.tsbuildBin, '--root', image.store, 'push', '-q', '--tls-verify', 'false', image.name, `docker://${registry.host}/${REPOSITORY}`]);
  const again = [
    benchCase({ ...local.pulls[0], key: 'repull-skopeo', caseName: 'pull again: every blob already in DIR', before: keep,
      argv: (dir) => ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${registry.host}/${REPOSITORY}`, `oci:${ctx.lowercase(dir)}:image`] }),
    benchCase({ ...local.pulls[1], key: 'repull-tsbuild', caseName: 'pull again: every layer already in the store', anchor: 'repull-skopeo', before: keep,
      argv: (dir) => ['node', ctx.tsbuildBin, '--root', dir, 'pull', '-q', '--tls-verify', 'false', `${registry.host}/${REPOSITORY}`] }),
    startupCase(ctx, 'registry-startup'),
  ];
  try {
    await runRounds(again, ctx);
  } finally {
    await loopback.stop();
  }

  const rows = [...local.pushes, ...local.pulls, ...again].map(summarise);
  const targets = [
    ratioTarget(rows, 'push-tsbuild', 0.9, 'registry (#14)'),
    ratioTarget(rows, 'pull-tsbuild', 0.8, 'registry (#14)'),
    workTarget(rows, 'repull-tsbuild', 'registry-startup', 0.2, 'registry (#4)'),
    ratioTarget(rows, 'push-floor', 0.9, 'registry (#14) floor', 'push-skopeo'),
    ratioTarget(rows, 'pull-floor', 0.8, 'registry (#14) floor', 'pull-skopeo'),
  ];
  let wanText = '';
  if (process.env.BENCH_REGISTRY_WAN !== '0') {
    const wan = createWanLink({ rateMbit: WAN_RATE_MBIT });
    let proxy;
    const wanLink = {
      start: async () => {
        registry = await startRegistry(join(ctx.work, 'wan-registry'), wan);
        proxy = await startDelayProxy(registry.host, WAN_RTT_MS);
        return proxy.host;
      },
      stop: async () => {
        await proxy?.close();
        await registry?.stop();
        proxy = undefined;
      },
    };
    try {
      const far = await transferCases(ctx, { image, ociDir, blobs, link: wanLink, prefix: 'wan-', label: 'WAN ' });
      const wanRows = [...far.pushes, ...far.pulls].map(summarise);
      wanRows.push(linkFloorRow('wan-push-link', `WAN push floor: ${(bytes / 1e6).toFixed(0)} MB at ${WAN_RATE_MBIT} Mbit/s (computed)`, 'wan-push-skopeo', bytes));
      wanRows.push(linkFloorRow('wan-pull-link', `WAN pull floor: ${(bytes / 1e6).toFixed(0)} MB at ${WAN_RATE_MBIT} Mbit/s (computed)`, 'wan-pull-skopeo', bytes));
      rows.push(...wanRows);
      targets.push(
        ratioTarget(rows, 'wan-push-tsbuild', 0.8, 'registry WAN (#14)'),
        ratioTarget(rows, 'wan-pull-tsbuild', 0.8, 'registry WAN (#14)'),
        ratioTarget(rows, 'wan-push-link', 0.8, 'registry WAN (#14) link', 'wan-push-skopeo'),
        ratioTarget(rows, 'wan-pull-link', 0.8, 'registry WAN (#14) link', 'wan-pull-skopeo'),
      );
      wanText = ` WAN rows: the registry in a network namespace of its own behind a veth pair, each end shaped with tbf to ${WAN_RATE_MBIT} Mbit/s, `
        + `clients through a TCP proxy on 127.0.0.1 that delays data by ${WAN_RTT_MS / 2} ms each way (${WAN_RTT_MS} ms RTT; a new connection's first bytes one RTT more, as a TCP handshake); `
        + '"link" rows are computed: the bytes at the shaped rate, nothing else.';
    } finally {
      await wanLink.stop();
      wan.remove();
    }
  }
  return {
    title: 'Push and pull through a docker-registry, on loopback and over a simulated WAN (#4, #14)',
    parameters: `${image.label}, ${(bytes / 1024 ** 2).toFixed(0)} MiB compressed; docker-registry (plain HTTP), `
      + 'a fresh one for every push run; pulls into an empty store / OCI layout each run.' + wanText,
    rows,
    targets,
  };
}
