import { isIP } from 'node:net';
import type { ExtraHost, RunSettings, Ulimit } from '../runtime/runSettings.js';

/** Resources docker's --ulimit knows, by their names there. */
const ULIMITS = new Set(['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** `NAME:IP` (or docker's newer `NAME=IP`); the IP may be IPv6, so the name ends at the first separator. */
function parseAddHost(value: string): ExtraHost {
  const at = value.search(/[:=]/);
  const name = value.slice(0, at);
  const ip = value.slice(at + 1);
  if (at <= 0 || isIP(ip) === 0) throw new Error(`invalid --add-host "${value}": expected HOST:IP`);
  return { name, ip };
}

/** `nofile=1024` or `nofile=1024:2048` (soft:hard). */
function parseUlimit(value: string): Ulimit {
  const m = /^([a-z]+)=(\d+)(?::(\d+))?$/.exec(value);
  if (!m || !ULIMITS.has(m[1]!)) throw new Error(`invalid --ulimit "${value}": expected NAME=SOFT[:HARD] with NAME one of ${[...ULIMITS].join(', ')}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard) throw new Error(`invalid --ulimit "${value}": the soft limit is above the hard limit`);
  return { type: `RLIMIT_${m[1]!.toUpperCase()}`, soft, hard };
}

/** `67108864`, `64m`, `1g`, as docker reads --shm-size (binary units). */
function parseShmSize(value: string): number {
  const m = /^(\d+)([bkmg])?$/i.exec(value);
  if (!m || Number(m[1]) === 0) throw new Error(`invalid --shm-size "${value}": expected a size such as 64m or 1g`);
  const unit = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

/** The RUN container settings the build flags ask for; undefined when none was given. */
export function runSettings(opts: { addHost: string[]; ulimit: string[]; shmSize?: string }): RunSettings | undefined {
  if (opts.addHost.length === 0 && opts.ulimit.length === 0 && opts.shmSize === undefined) return undefined;
  return {
    extraHosts: opts.addHost.map(parseAddHost),
    ulimits: opts.ulimit.map(parseUlimit),
    ...(opts.shmSize !== undefined ? { shmSize: parseShmSize(opts.shmSize) } : {}),
  };
}
