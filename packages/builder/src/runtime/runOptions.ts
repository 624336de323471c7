import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { constants } from 'node:os';
import { ContainerError } from './containerError.js';
import type { NetworkMode } from './network/networkState.js';
import { parsePublish, type PortMapping } from './network/portMapping.js';

export type { NetworkMode };

export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'file'; path: string };

export type RestartPolicy = { kind: 'no' } | { kind: 'on-failure'; maxRetries: number } | { kind: 'always' } | { kind: 'unless-stopped' };

export interface VolumeMount {
  /** The host path; for a named volume, its data directory once `create` has it. */
  source: string;
  destination: string;
  readOnly: boolean;
  /** A volume, not a host path: its name, or none for a new anonymous one (volumeMounts.ts). */
  volume?: { name?: string };
}

export interface TmpfsMount {
  destination: string;
  options: string[];
}

/** Everything `run` and `create` take besides the image and command, parsed and checked. */
export interface RunProfile {
  env: string[];
  workdir?: string;
  user?: string;
  /** `--entrypoint`: replaces the image's Entrypoint and drops its Cmd. */
  entrypoint?: string[];
  hostname?: string;
  readOnly: boolean;
  network: NetworkMode;
  /** `-p/--publish`: host ports forwarded to the container (bridge only). */
  publish: PortMapping[];
  /** Bytes. */
  memory?: number;
  cpus?: number;
  pidsLimit?: number;
  capAdd: string[];
  capDrop: string[];
  seccomp: SeccompChoice;
  noNewPrivileges: boolean;
  privileged: boolean;
  volumes: VolumeMount[];
  tmpfs: TmpfsMount[];
  /** `--init`: catatonit as PID 1, reaping zombies and passing signals on. */
  init: boolean;
  /** `-t`: the process gets a terminal (conmon holds the master). */
  tty: boolean;
  /** `--ulimit`: replaces the default of the same type. */
  ulimits: Ulimit[];
}

export interface Ulimit {
  /** RLIMIT_NOFILE and so on. */
  type: string;
  soft: number;
  hard: number;
}

const RLIMITS = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** `--ulimit nofile=1024[:2048]` (docker's names; -1 for unlimited). */
export function parseUlimit(text: string): Ulimit {
  const m = /^([a-z]+)=(-1|\d+)(?::(-1|\d+))?$/.exec(text);
  if (!m || !RLIMITS.includes(m[1]!)) throw invalid(`invalid --ulimit ${JSON.stringify(text)}: expected NAME=SOFT[:HARD], NAME one of ${RLIMITS.join(', ')}`);
  const value = (v: string) => (v === '-1' ? 2 ** 64 - 1 : Number(v));
  const soft = value(m[2]!);
  const hard = m[3] === undefined ? soft : value(m[3]);
  if (soft > hard) throw invalid(`invalid --ulimit ${JSON.stringify(text)}: the soft limit is above the hard one`);
  return { type: `RLIMIT_${m[1]!.toUpperCase()}`, soft, hard };
}

export const invalid = (message: string) => new ContainerError('invalid-option', message);

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Docker's sizes: a number with an optional b, k, m or g (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid size ${JSON.stringify(text)}: expected a number with an optional unit b, k, m or g`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

export function parseMemorySize(text: string): number {
  const bytes = parseSize(text);
  // Below this the kernel cannot even start the container's init (docker's own floor).
  if (bytes < 6 * 1024 * 1024) throw invalid(`--memory ${text} is below the minimum of 6m`);
  return bytes;
}

export function parseCpus(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`invalid --cpus ${JSON.stringify(text)}: expected a positive number`);
  return n;
}

export function parsePidsLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || (n <= 0 && n !== -1)) throw invalid(`invalid --pids-limit ${JSON.stringify(text)}: expected a positive integer or -1`);
  return n;
}

export function absoluteContainerPath(path: string, flag: string): string {
  if (!path.startsWith('/')) throw invalid(`${flag}: container path ${JSON.stringify(path)} must be absolute`);
  return posix.normalize(path);
}

/** `--tmpfs CTR[:OPTIONS]`, docker's defaults (noexec, nosuid, nodev) unless the options say otherwise. */
export function parseTmpfs(spec: string): TmpfsMount {
  const colon = spec.indexOf(':');
  const destination = absoluteContainerPath(colon < 0 ? spec : spec.slice(0, colon), '--tmpfs');
  const given = colon < 0 ? [] : spec.slice(colon + 1).split(',').filter(Boolean);
  const defaults = ['noexec', 'nosuid', 'nodev'].filter((d) => !given.some((g) => g === d || g === d.replace(/^no/, '')));
  return { destination, options: [...defaults, ...given] };
}

/** `-e NAME=value`, or `-e NAME` to pass this process's value (dropped when unset, as docker does). */
export function parseEnv(entries: string[], environment: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw invalid(`invalid environment variable ${JSON.stringify(entry)}: no name`);
    if (eq > 0) out.push(entry);
    else if (environment[entry] !== undefined) out.push(`${entry}=${environment[entry]}`);
  }
  return out;
}

/** `--env-file`: one NAME=value or NAME per line; `#` comments and blank lines are skipped. */
export async function readEnvFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw invalid(`cannot read env file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseEnv(text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')));
}

/** Sets later entries over earlier ones with the same name, keeping first-seen order. */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const byName = new Map<string, string>();
  for (const entry of [...base, ...overrides]) byName.set(entry.slice(0, Math.max(entry.indexOf('='), 0)) || entry, entry);
  return [...byName.values()];
}

export function parseSecurityOpts(opts: string[]): { seccomp: SeccompChoice; noNewPrivileges: boolean } {
  let seccomp: SeccompChoice = { kind: 'default' };
  let noNewPrivileges = false;
  for (const opt of opts) {
    if (opt === 'no-new-privileges' || opt === 'no-new-privileges=true' || opt === 'no-new-privileges:true') noNewPrivileges = true;
    else if (opt === 'no-new-privileges=false' || opt === 'no-new-privileges:false') noNewPrivileges = false;
    else if (opt.startsWith('seccomp=') || opt.startsWith('seccomp:')) {
      const value = opt.slice('seccomp='.length);
      seccomp = value === 'unconfined' ? { kind: 'unconfined' } : { kind: 'file', path: value };
    } else throw invalid(`unsupported --security-opt ${JSON.stringify(opt)}: expected seccomp=FILE|unconfined or no-new-privileges`);
  }
  return { seccomp, noNewPrivileges };
}

/** `CHOWN`, `cap_chown` and `CAP_CHOWN` all mean the same capability; `ALL` stays as is. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return upper;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!/^CAP_[A-Z_]+$/.test(full)) throw invalid(`invalid capability ${JSON.stringify(name)}`);
  return full;
}

export function parseRestartPolicy(text: string): RestartPolicy {
  if (text === 'no' || text === '') return { kind: 'no' };
  if (text === 'always') return { kind: 'always' };
  if (text === 'unless-stopped') return { kind: 'unless-stopped' };
  const m = /^on-failure(?::(\d+))?$/.exec(text);
  if (m) return { kind: 'on-failure', maxRetries: m[1] === undefined ? 0 : Number(m[1]) };
  throw invalid(`invalid --restart ${JSON.stringify(text)}: expected no, on-failure[:N], always or unless-stopped`);
}

/** A signal by name (`TERM`, `SIGTERM`) or number, as `kill -s` and STOPSIGNAL take them. */
export function parseSignal(text: string): { name: string; number: number } {
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    const name = Object.keys(signals).find((k) => signals[k] === number);
    if (!name) throw invalid(`unknown signal ${text}`);
    return { name, number };
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const number = signals[name];
  if (number === undefined) throw invalid(`unknown signal ${JSON.stringify(text)}`);
  return { name, number };
}

export function parseNetwork(text: string): NetworkMode {
  if (text === 'bridge' || text === 'none' || text === 'host') return text;
  throw invalid(`invalid --network ${JSON.stringify(text)}: expected bridge, none or host`);
}

/** `-p` values for a network mode: only a bridge container has ports of its own to publish. */
export function parsePublishFor(network: NetworkMode, values: string[]): PortMapping[] {
  if (values.length > 0 && network !== 'bridge') throw invalid(`ports cannot be published with --network ${network}`);
  return values.map(parsePublish);
}
