// `tsbuild run` (#13) against plain `runc run` of a prepared bundle (the floor), against node's
// start-up followed by that runc run (the floor of any Node CLI), against the processes and mounts
// a conmon-based manager cannot do without (bench/conmonFloor.sh, with and without node's
// start-up before it), and against `podman run` (the anchor) on the same images: one container end to end with and without
// bridge networking, a Debian-based image against hello, and 50 detached containers (start
// time, then memory per running container).
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioTarget, summarise } from './benchReport.mjs';
import { checkedOutput } from './checkedOutput.mjs';
import { DEBIAN_BASE } from './debianBase.mjs';
import { benchCase, removeTree, runRounds } from './runRounds.mjs';

const HELLO = 'localhost/hello:latest';
const KiB = 1024;

/**
 * Podman's defaults that this sandbox refuses or that would reach outside the bench's own
 * directories: its default ulimits (nofile/nproc above the hard limits), crun (which refuses
 * the hybrid cgroup hierarchy; runc is also what tsbuild runs), the systemd cgroup manager and
 * journald events (no systemd here), and the CNI configuration and temp directories.
 */
function podmanConf(dir) {
  return ['[containers]', 'default_ulimits = []', '', '[engine]', 'runtime = "runc"', 'cgroup_manager = "cgroupfs"',
    'events_logger = "file"', `events_logfile_path = "${join(dir, 'events.log')}"`, `tmp_dir = "${join(dir, 'tmp')}"`, '',
    '[network]', 'network_backend = "cni"', `network_config_dir = "${join(dir, 'cni')}"`, ''].join('\n');
}

function podmanSetup(ctx, dir) {
  mkdirSync(dir, { recursive: true });
  const confFile = join(dir, 'containers.conf');
  writeFileSync(confFile, podmanConf(dir));
  const root = join(dir, 'root');
  const runroot = join(dir, 'runroot');
  return {
    confFile, root, runroot,
    env: { ...process.env, CONTAINERS_CONF: confFile },
    argv: ['podman', '--root', root, '--runroot', runroot, '--storage-driver', 'overlay'],
    storage: `containers-storage:[overlay@${root}+${runroot}]`,
  };
}

function podmanOutput(podman, args) {
  const saved = process.env.CONTAINERS_CONF;
  process.env.CONTAINERS_CONF = podman.confFile;
  try {
    return checkedOutput([...podman.argv, ...args]);
  } finally {
    if (saved === undefined) delete process.env.CONTAINERS_CONF;
    else process.env.CONTAINERS_CONF = saved;
  }
}

/** Bytes below `dir` on its own file system (a container's merged rootfs is a mount, left out). */
const treeBytes = (dirs) => dirs.reduce((sum, d) => sum + Number(checkedOutput(['du', '-sbx', d]).split('\t')[0]), 0);

const vmRssBytes = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * KiB;

/**
 * The conmon floor's bundle: the one `tsbuild bundle` wrote, with the seccomp filter every
 * `tsbuild run` (and `podman run`) installs, taken from a container of the store. runc compiles
 * and loads that filter in `create` (~20 ms here); a floor without it would be low by that much.
 */
function filteredBundle(tsbuild, store, bundle, dir) {
  const id = checkedOutput([...tsbuild, 'run', '-d', '--network', 'none', HELLO]).trim();
  const { seccomp } = JSON.parse(readFileSync(join(store, 'containers', id, 'config.json'), 'utf8')).linux;
  checkedOutput([...tsbuild, 'rm', '-f', id]);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  mkdirSync(dir);
  symlinkSync(join(bundle, 'rootfs'), join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, linux: { ...config.linux, seccomp } }));
  return dir;
}

function idsIn(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l));
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
}

export async function runContainerGroup(ctx) {
  const count = Math.round(ctx.positiveEnv('BENCH_RUN_DETACHED', 50));
  const dir = join(ctx.work, 'run');
  const store = join(dir, 'store');
  const tsbuild = ['node', ctx.tsbuildBin, '--root', store];
  const base = ctx.debianBase();
  base.intoTsbuildStore(store);
  checkedOutput([...tsbuild, 'build', '-q', '-t', HELLO, join(ctx.repo, 'samples/hello')]);
  const bundle = join(dir, 'bundle');
  const conmonFloor = join(ctx.repo, 'bench/conmonFloor.sh');
  checkedOutput([...tsbuild, 'bundle', HELLO, bundle]);
  const floorBundle = filteredBundle(tsbuild, store, bundle, join(dir, 'bundle-seccomp'));
  const podman = podmanSetup(ctx, ctx.lowercase(join(dir, 'podman')));
  for (const image of [HELLO, DEBIAN_BASE]) {
    checkedOutput(['skopeo', 'copy', '-q', `oci:${ctx.lowercase(join(store, 'oci'))}:${image}`, `${podman.storage}${image}`]);
  }

  let runcId = 0;
  const keep = () => {};
  const single = [
    benchCase({ key: 'run-runc', tool: 'runc', caseName: 'run -b BUNDLE (hello, prepared bundle, own netns)', root: dir, before: keep,
      argv: () => ['runc', 'run', '-b', bundle, `tsbuild-bench-${process.pid}-${++runcId}`] }),
    // What no Node CLI that has runc run a container can go below: node's own start-up, then the same runc run.
    benchCase({ key: 'run-floor-node', tool: 'node + runc', caseName: 'node -e 0 && runc run -b BUNDLE (the floor of a Node CLI)', root: dir, before: keep,
      argv: () => ['sh', '-c', 'node -e 0 && exec runc run -b "$1" "$2"', 'sh', bundle, `tsbuild-bench-${process.pid}-${++runcId}`] }),
    // The issue asks for conmon as the shim: its sequence (overlay, conmon -> runc create, runc start, wait, runc delete, umount)
    // is what podman pays too; with a bridge, also the CNI plugins tsbuild's network chains. After node -e 0: the floor of a Node CLI.
    ...['none', 'bridge'].flatMap((network) => [
      benchCase({ key: `run-floor-conmon-${network}`, tool: 'conmon + runc', caseName: `bench/conmonFloor.sh (${network})`, root: dir, before: keep,
        argv: () => [conmonFloor, 'run', floorBundle, join(dir, `floor-${++runcId}`), `tsbuild-bench-${process.pid}-${runcId}`, network] }),
      benchCase({ key: `run-floor-node-conmon-${network}`, tool: 'node + conmon + runc', caseName: `node -e 0 && bench/conmonFloor.sh (${network}): the floor of a Node CLI driving conmon`, root: dir, before: keep,
        argv: () => ['sh', '-c', 'node -e 0 && exec "$@"', 'sh', conmonFloor, 'run', floorBundle, join(dir, `floor-${++runcId}`), `tsbuild-bench-${process.pid}-${runcId}`, network] }),
    ]),
  ];
  for (const network of ['none', 'bridge']) {
    single.push(
      benchCase({ key: `run-podman-${network}`, tool: 'podman', caseName: `run --rm --network ${network} hello`, root: dir, before: keep, env: podman.env,
        argv: () => [...podman.argv, 'run', '--rm', '--network', network, HELLO] }),
      benchCase({ key: `run-tsbuild-${network}`, tool: 'tsbuild', caseName: `run --rm --network ${network} hello`, root: dir, before: keep,
        anchor: `run-podman-${network}`, argv: () => [...tsbuild, 'run', '--rm', '--network', network, HELLO] }),
    );
  }
  single.push(
    benchCase({ key: 'run-tsbuild-debian', tool: 'tsbuild', caseName: `run --rm --network none ${DEBIAN_BASE} true`, root: dir, before: keep,
      anchor: 'run-tsbuild-none', argv: () => [...tsbuild, 'run', '--rm', '--network', 'none', DEBIAN_BASE, 'true'] }),
    benchCase({ key: 'run-podman-debian', tool: 'podman', caseName: `run --rm --network none ${DEBIAN_BASE} true`, root: dir, before: keep,
      env: podman.env, anchor: 'run-podman-none', argv: () => [...podman.argv, 'run', '--rm', '--network', 'none', DEBIAN_BASE, 'true'] }),
  );
  try {
    await runRounds(single, ctx);
  } catch (e) {
    // Podman's storage stays mounted under the work dir until reset; the bench then refuses to delete it and that error would hide this one.
    ctx.progress(`error: ${e.message}`);
    podmanOutput(podman, ['system', 'reset', '-f']);
    throw e;
  }

  // Each tool starts `count` containers one after another from one shell, their IDs into a file;
  // before the next round (and at the end, always) every one of them is removed by ID.
  const tools = {
    tsbuild: { cli: tsbuild, idsFile: join(dir, 'tsbuild-ids'), env: process.env,
      rm: (ids) => checkedOutput([...tsbuild, 'rm', '-f', ...ids]) },
    podman: { cli: podman.argv, idsFile: join(dir, 'podman-ids'), env: podman.env,
      rm: (ids) => podmanOutput(podman, ['rm', '-f', '-t', '0', ...ids]) },
    floor: { idsFile: join(dir, 'floor-ids'), env: process.env,
      rm: (ids) => ids.forEach((id) => checkedOutput([conmonFloor, 'remove', floorBundle, join(dir, 'floor-detached', id), id, 'bridge'])) },
  };
  // One ID at a time, so that one failure (seen: `tsbuild rm -f` of 50 IDs stopping part-way)
  // leaves none of the others running; the failures are reported together at the end.
  const removeStarted = (tool) => {
    const failures = [];
    for (const id of idsIn(tool.idsFile)) {
      try {
        tool.rm([id]);
      } catch (e) {
        failures.push(e.message);
      }
    }
    writeFileSync(tool.idsFile, '');
    if (failures.length) throw new Error(`removing containers failed:\n${failures.join('\n')}`);
  };
  const detachedCase = (name, anchor) => benchCase({ key: `run-detached-${name}`, tool: name, anchor, root: dir, env: tools[name].env,
    caseName: `${count} x run -d ${DEBIAN_BASE} sleep 600 (bridge), one after another`, before: () => removeStarted(tools[name]),
    argv: () => ['sh', '-c', `for i in $(seq ${count}); do "$@" run -d ${DEBIAN_BASE} sleep 600 >> ${tools[name].idsFile} || exit 1; done`, 'sh', ...tools[name].cli] });
  let floorRound = 0;
  // The same loop with node's start-up and bench/conmonFloor.sh's `start` (hello, bridge) in place of each run -d: a 64-hex ID per container, from the round and the count.
  const floorCase = benchCase({ key: 'run-detached-floor', tool: 'node + conmon + runc', root: dir, env: process.env,
    caseName: `${count} x node -e 0 && bench/conmonFloor.sh start (bridge), one after another: the floor of a Node CLI driving conmon`,
    before: () => removeStarted(tools.floor),
    argv: () => ['sh', '-c', `for i in $(seq ${count}); do id=$(printf '%032x%032x' ${++floorRound} "$i"); node -e 0 && "$1" start "$2" "$3/$id" "$id" bridge >> ${tools.floor.idsFile} || exit 1; done`,
      'sh', conmonFloor, floorBundle, join(dir, 'floor-detached')] });
  const detached = [detachedCase('podman'), floorCase, detachedCase('tsbuild', 'run-detached-podman')];
  let memory;
  try {
    await runRounds(detached, ctx);
    memory = {
      tsbuild: idsIn(tools.tsbuild.idsFile).map((id) => ({
        rss: vmRssBytes(readFileSync(join(store, 'containers', id, 'conmon.pid'), 'utf8').trim()),
        state: treeBytes([join(store, 'containers', id)]),
      })),
      podman: idsIn(tools.podman.idsFile).map((id) => ({
        rss: vmRssBytes(podmanOutput(podman, ['inspect', '--format', '{{.State.ConmonPid}}', id])),
        state: treeBytes([join(podman.root, 'overlay-containers', id), join(podman.runroot, 'overlay-containers', id)]),
      })),
    };
  } finally {
    try {
      removeStarted(tools.tsbuild);
      removeStarted(tools.floor);
    } finally {
      try {
        removeStarted(tools.podman);
      } finally {
        podmanOutput(podman, ['system', 'reset', '-f']);
      }
    }
  }
  const rows = [...single, ...detached].map(summarise);
  const perContainer = (name) => {
    const avg = (key) => memory[name].reduce((s, m) => s + m[key], 0) / memory[name].length / KiB;
    return `| ${name} | ${memory[name].length} | ${avg('rss').toFixed(0)} | ${avg('state').toFixed(0)} |`;
  };
  return {
    title: 'tsbuild run (#13)',
    parameters: 'samples/hello (FROM scratch) and the Debian base in one tsbuild store; the same images copied into a podman storage '
      + `(overlay driver) with skopeo. The floor is \`runc run\` of a bundle \`tsbuild bundle\` wrote once; the floor of a Node CLI adds \`node -e 0\` (node's start-up) before it. The conmon floor (bench/conmonFloor.sh) is what a manager built on conmon runs for one container and cannot leave out: an overlay mount over the bundle's rootfs, the bundle's config.json with the seccomp filter \`tsbuild run\` and \`podman run\` install (containers-common's default profile; runc compiles it in \`create\`), conmon (sync pipe, k8s-file log, exit file) running \`runc create\`, \`runc start\`, the wait for the exit, \`runc delete\`, the unmount; with a bridge also the network namespace and the CNI plugins tsbuild's bridge network chains (loopback, bridge with host-local and masquerade, firewall: ADD while conmon creates the container, DEL after it). Its \`start\` mode, for the detached rows, stops after \`runc start\` with conmon in the background (the container is hello, whose start costs what Debian's does: the rootfs is an overlay either way). The script's mount, unshare and umount are processes, which tsbuild's in-process calls do not pay: the floor is a little high by those. ${checkedOutput(['podman', '--version'])} `
      + `with runc and this containers.conf (CONTAINERS_CONF, temp --root/--runroot):\n\n\`\`\`toml\n${podmanConf('<bench dir>')}\`\`\``,
    rows,
    extra: ['Memory per running container after the last detached round: conmon\'s VmRSS and the bytes of its state directory '
      + '(tsbuild: `<root>/containers/<id>` with the rootfs upper/work dirs; podman: `overlay-containers/<id>` under --root and --runroot).',
    '', '| tool | containers | conmon RSS KiB (mean) | state KiB (mean) |', '|---|---:|---:|---:|', perContainer('tsbuild'), perContainer('podman')].join('\n'),
    targets: [
      ratioTarget(rows, 'run-tsbuild-none', 1.5, 'run (#13)', 'run-runc'),
      ratioTarget(rows, 'run-tsbuild-bridge', 1.5, 'run (#13)', 'run-runc'),
      // Whether 1.5x runc is reachable at all: node's start-up alone may take it past that.
      ratioTarget(rows, 'run-floor-node', 1.5, 'run (#13), the floor of a Node CLI', 'run-runc'),
      ratioTarget(rows, 'run-tsbuild-none', 1.5, 'run (#13), against the floor of a Node CLI', 'run-floor-node'),
      ratioTarget(rows, 'run-tsbuild-bridge', 1.5, 'run (#13), against the floor of a Node CLI', 'run-floor-node'),
      // Whether 0.8x podman is reachable at all with conmon and a Node CLI, and how far tsbuild is above that floor.
      ...['none', 'bridge'].flatMap((network) => [
        ratioTarget(rows, `run-floor-node-conmon-${network}`, 0.8, 'run (#13), the floor of a Node CLI driving conmon', `run-podman-${network}`),
        ratioTarget(rows, `run-tsbuild-${network}`, 1.1, 'run (#13), against the floor of a Node CLI driving conmon', `run-floor-node-conmon-${network}`),
      ]),
      ratioTarget(rows, 'run-tsbuild-none', 0.8, 'run (#13)'),
      ratioTarget(rows, 'run-tsbuild-bridge', 0.8, 'run (#13)'),
      ratioTarget(rows, 'run-detached-floor', 0.8, 'run (#13), the floor of a Node CLI driving conmon', 'run-detached-podman'),
      ratioTarget(rows, 'run-detached-tsbuild', 1.1, 'run (#13), against the floor of a Node CLI driving conmon', 'run-detached-floor'),
      ratioTarget(rows, 'run-detached-tsbuild', 0.8, 'run (#13)'),
      ratioTarget(rows, 'run-tsbuild-debian', 1.1, 'run (#13), within noise'),
    ],
  };
}
