import type { ImageConfig, RuntimeMount, RuntimeSpec } from '@tsbuild/oci-layout';
import { toRuntimeSpec } from '@tsbuild/oci-layout';
import { resolveCapabilities } from './capabilitySet.js';
import { loadSeccompProfile, DEFAULT_SECCOMP_PROFILE, type LinuxSeccomp } from './seccompProfile.js';
import { mergeEnv, type RunProfile } from './runOptions.js';

/** The runtime spec of a container: what `toRuntimeSpec` writes plus limits, seccomp and a cgroup. */
export interface ContainerSpec extends Omit<RuntimeSpec, 'linux' | 'process'> {
  process: RuntimeSpec['process'] & { capabilities: RuntimeSpec['process']['capabilities'] & { inheritable: string[] } };
  linux: RuntimeSpec['linux'] & {
    cgroupsPath: string;
    seccomp?: LinuxSeccomp;
    resources: RuntimeSpec['linux']['resources'] & {
      memory?: { limit: number; swap: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    namespaces: { type: string; path?: string }[];
  };
}

/** catatonit (Debian package), as podman's --init uses it: static, so it runs in any rootfs. */
export const INIT_BINARY = '/usr/bin/catatonit';
/** Where the container sees it; /run is no image's business. */
const INIT_PATH = '/run/tsbuild-init';

export interface ContainerSpecInput {
  id: string;
  image: ImageConfig;
  /** The mounted root filesystem (absolute). */
  rootfs: string;
  /** COMMAND [ARG...] from the command line; empty keeps the image's Cmd. */
  command: string[];
  profile: RunProfile;
  /** Files the container sees at /etc/hosts, /etc/hostname and /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** A network namespace made beforehand (bridge networking); none means runc makes a fresh one. */
  netnsPath?: string;
  arch?: string;
}

/** The image config with the command line's overrides in it, docker's precedence. */
export function effectiveImageConfig(image: ImageConfig, command: string[], profile: RunProfile): ImageConfig {
  const config = { ...image.config };
  if (profile.entrypoint) {
    config.Entrypoint = profile.entrypoint;
    config.Cmd = command;
  } else if (command.length > 0) config.Cmd = command;
  config.Env = mergeEnv(config.Env ?? [], profile.env);
  if (profile.workdir !== undefined) config.WorkingDir = profile.workdir;
  if (profile.user !== undefined) config.User = profile.user;
  return { ...image, config };
}

function bind(source: string, destination: string, readOnly: boolean): RuntimeMount {
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', ...(readOnly ? ['ro'] : [])] };
}

/**
 * The runtime spec `tsbuild run` hands to runc: image-spec conversion, then
 * docker's run profile: its capabilities (with --cap-add/--cap-drop), the
 * containers-common seccomp profile, masked and read-only /proc paths,
 * no_new_privs only on request, limits under a cgroup of our own, the
 * volumes and tmpfs mounts asked for.
 */
export async function buildContainerSpec(input: ContainerSpecInput): Promise<ContainerSpec> {
  const { profile } = input;
  const image = effectiveImageConfig(input.image, input.command, profile);
  // docker's TERM for a terminal, unless the image or -e sets one.
  if (profile.tty && !(image.config?.Env ?? []).some((e) => e.startsWith('TERM='))) image.config = { ...image.config, Env: [...(image.config?.Env ?? []), 'TERM=xterm'] };
  const base = await toRuntimeSpec(image, { rootfs: input.rootfs, rootfsPath: input.rootfs, args: undefined });
  const caps = resolveCapabilities(profile.capAdd, profile.capDrop, profile.privileged);
  const seccomp =
    profile.privileged || profile.seccomp.kind === 'unconfined'
      ? undefined
      : await loadSeccompProfile(profile.seccomp.kind === 'file' ? profile.seccomp.path : DEFAULT_SECCOMP_PROFILE, {
          arch: input.arch ?? process.arch,
          capabilities: caps,
        });

  // cgroup v1 hosts get the host's cgroup namespace, as docker does there.
  let namespaces: { type: string; path?: string }[] = base.linux.namespaces.filter((ns) => ns.type !== 'cgroup');
  let mounts = base.mounts;
  if (profile.network === 'host') {
    namespaces = namespaces.filter((ns) => ns.type !== 'network');
    // sysfs belongs to a network namespace; sharing the host's, only a read-only bind of its /sys is allowed.
    mounts = mounts.map((m) => (m.destination === '/sys' ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] } : m));
  } else if (input.netnsPath) {
    namespaces = namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: input.netnsPath } : ns));
  }
  if (profile.privileged) {
    mounts = mounts.map((m) => (m.destination === '/sys' || m.destination === '/sys/fs/cgroup' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro') } : m));
  }
  mounts = [
    ...mounts,
    bind(input.etcFiles.hosts, '/etc/hosts', false),
    bind(input.etcFiles.hostname, '/etc/hostname', false),
    bind(input.etcFiles.resolvConf, '/etc/resolv.conf', false),
    ...profile.tmpfs.map((t) => ({ destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: t.options })),
    ...profile.volumes.map((v) => bind(v.source, v.destination, v.readOnly)),
    ...(profile.init ? [bind(INIT_BINARY, INIT_PATH, true)] : []),
  ];

  const resources: ContainerSpec['linux']['resources'] = {
    devices: profile.privileged ? [{ allow: true, access: 'rwm' }] : base.linux.resources.devices,
  };
  // Docker's default swap allowance is as much again as the memory limit.
  if (profile.memory !== undefined) resources.memory = { limit: profile.memory, swap: profile.memory * 2 };
  if (profile.cpus !== undefined) resources.cpu = { quota: Math.round(profile.cpus * 100_000), period: 100_000 };
  if (profile.pidsLimit !== undefined) resources.pids = { limit: profile.pidsLimit };

  return {
    ...base,
    process: {
      ...base.process,
      terminal: profile.tty,
      rlimits: [...base.process.rlimits.filter((r) => !profile.ulimits.some((u) => u.type === r.type)), ...profile.ulimits],
      args: profile.init ? [INIT_PATH, '--', ...base.process.args] : base.process.args,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
      noNewPrivileges: profile.noNewPrivileges,
    },
    root: { path: input.rootfs, readonly: profile.readOnly },
    hostname: profile.hostname ?? input.id.slice(0, 12),
    mounts,
    linux: {
      ...base.linux,
      cgroupsPath: `/tsbuild/${input.id}`,
      namespaces,
      resources,
      ...(seccomp ? { seccomp } : {}),
      maskedPaths: profile.privileged ? [] : base.linux.maskedPaths,
      readonlyPaths: profile.privileged ? [] : base.linux.readonlyPaths,
    },
  };
}
