import { posix } from 'node:path';
import type { ImageConfig } from './schema.js';
import { resolveUser } from './userLookup.js';

/** The parts of an OCI runtime-spec `config.json` that we write. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: RuntimeMount[];
  annotations: Record<string, string>;
  linux: {
    resources: { devices: { allow: boolean; access: string }[] };
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface RuntimeMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface RuntimeSpecOptions {
  /** Absolute host path of the unpacked rootfs; its /etc/passwd and /etc/group resolve `User`. */
  rootfs: string;
  /** `root.path` in the spec, relative to the bundle. */
  rootfsPath?: string;
  /** Replaces the whole of Entrypoint + Cmd. */
  args?: string[];
}

export class RuntimeSpecError extends Error {}

/** The version `runc spec` (runc 1.1) writes, so the runc we run with accepts every field. */
export const RUNTIME_SPEC_VERSION = '1.0.2-dev';

/** What docker and runc put in PATH when the image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set: what images are written to expect. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const ANNOTATION = 'org.opencontainers.image.';

function defaultMounts(): RuntimeMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
}

function processArgs(config: ImageConfig, override: string[] | undefined): string[] {
  if (override) {
    if (override.length === 0) throw new RuntimeSpecError('the args given to run are empty');
    return override;
  }
  const args = [...(config.config?.Entrypoint ?? []), ...(config.config?.Cmd ?? [])];
  // A base image often has no command; like `runc spec` and umoci, fall back to a shell.
  return args.length > 0 ? args : ['sh'];
}

function envName(entry: string): string {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new RuntimeSpecError(`invalid Env entry ${JSON.stringify(entry)} in the image config: expected NAME=value`);
  return entry.slice(0, eq);
}

/**
 * The image's Env, plus PATH and HOME only where the image sets none:
 * conversion.md lets a converter add variables but never change the image's.
 */
function processEnv(config: ImageConfig, home: string | undefined): string[] {
  const env = [...(config.config?.Env ?? [])];
  const names = new Set(env.map(envName));
  if (!names.has('PATH')) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (home !== undefined && !names.has('HOME')) env.push(`HOME=${home}`);
  return env;
}

/** conversion.md's implicit annotations, then every Label (Labels take precedence). */
function annotations(config: ImageConfig): Record<string, string> {
  const out: Record<string, string> = {};
  out[`${ANNOTATION}os`] = config.os;
  out[`${ANNOTATION}architecture`] = config.architecture;
  if (config.variant) out[`${ANNOTATION}variant`] = config.variant;
  if (config['os.version']) out[`${ANNOTATION}os.version`] = config['os.version'];
  if (config['os.features']?.length) out[`${ANNOTATION}os.features`] = config['os.features'].join(',');
  const ports = Object.keys(config.config?.ExposedPorts ?? {}).sort();
  if (ports.length) out[`${ANNOTATION}exposedPorts`] = ports.join(',');
  if (config.config?.StopSignal) out[`${ANNOTATION}stopSignal`] = config.config.StopSignal;
  if (config.created) out[`${ANNOTATION}created`] = config.created;
  if (config.author) out[`${ANNOTATION}author`] = config.author;
  Object.assign(out, config.config?.Labels ?? {});
  return out;
}

/**
 * Converts an image config to a runtime config per image-spec conversion.md,
 * on top of the defaults `runc spec` generates (plus a cgroup namespace,
 * docker's capabilities and a writable root).
 *
 * `Config.Volumes` get no mounts: a fresh volume would hide whatever the image
 * ships at that path, and where its data should live is the caller's decision
 * (as with umoci 0.4 and plain runc); left alone they are ordinary, writable
 * directories of the rootfs.
 */
export async function toRuntimeSpec(config: ImageConfig, opts: RuntimeSpecOptions): Promise<RuntimeSpec> {
  const args = processArgs(config, opts.args);
  const user = await resolveUser(opts.rootfs, config.config?.User ?? '');
  const capabilities = { bounding: [...DEFAULT_CAPABILITIES], effective: [...DEFAULT_CAPABILITIES], permitted: [...DEFAULT_CAPABILITIES] };
  return {
    ociVersion: RUNTIME_SPEC_VERSION,
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args,
      env: processEnv(config, user.home),
      // runc insists on an absolute cwd; a relative WorkingDir can only mean from `/`.
      cwd: posix.resolve('/', config.config?.WorkingDir || '/'),
      capabilities,
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: opts.rootfsPath ?? 'rootfs', readonly: false },
    hostname: 'tsbuild',
    mounts: defaultMounts(),
    annotations: annotations(config),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
