import { readFile } from 'node:fs/promises';
import { ContainerError } from './containerError.js';

/** The default profile of containers-common (Debian golang-github-containers-common), as podman uses it. */
export const DEFAULT_SECCOMP_PROFILE = '/usr/share/containers/seccomp.json';

/** runtime-spec `linux.seccomp`. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: LinuxSyscallRule[];
}

export interface LinuxSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

/** A rule's conditions in the containers-common (docker) format. */
interface RuleFilter {
  caps?: string[];
  arches?: string[];
}

interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: RuleFilter;
  excludes?: RuleFilter;
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: ProfileRule[];
}

/** Node's `process.arch` as Go spells it (the profile's `arches` use Go's names) and as libseccomp does. */
const ARCHES: Record<string, { go: string; seccomp: string }> = {
  x64: { go: 'amd64', seccomp: 'SCMP_ARCH_X86_64' },
  arm64: { go: 'arm64', seccomp: 'SCMP_ARCH_AARCH64' },
  arm: { go: 'arm', seccomp: 'SCMP_ARCH_ARM' },
  ia32: { go: '386', seccomp: 'SCMP_ARCH_X86' },
  ppc64: { go: 'ppc64le', seccomp: 'SCMP_ARCH_PPC64LE' },
  s390x: { go: 's390x', seccomp: 'SCMP_ARCH_S390X' },
};

export interface SeccompTarget {
  /** Node's name for the architecture (`process.arch`). */
  arch: string;
  /** The container's capabilities: rules can depend on them. */
  capabilities: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseProfile(raw: unknown, source: string): Profile {
  const bad = (why: string) => new ContainerError('invalid-option', `seccomp profile ${source}: ${why}`);
  if (!isObject(raw)) throw bad('not a JSON object');
  if (typeof raw.defaultAction !== 'string') throw bad('no defaultAction');
  if (raw.syscalls !== undefined && !Array.isArray(raw.syscalls)) throw bad('syscalls is not a list');
  for (const rule of (raw.syscalls ?? []) as unknown[]) {
    if (!isObject(rule) || typeof rule.action !== 'string') throw bad('a syscall rule has no action');
    if (!Array.isArray(rule.names) && typeof rule.name !== 'string') throw bad('a syscall rule names no syscalls');
  }
  return raw as unknown as Profile;
}

function applies(rule: ProfileRule, arch: string, caps: Set<string>): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.arches?.length && !inc.arches.includes(arch)) return false;
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (exc.arches?.includes(arch)) return false;
  if (exc.caps?.some((c) => caps.has(c))) return false;
  return true;
}

/**
 * Converts a containers-common/docker seccomp profile to runtime-spec form for
 * one architecture and capability set, as podman does: rules whose
 * `includes` are not met or whose `excludes` are are left out, and the
 * architectures are the native one plus its sub-architectures.
 */
export function toLinuxSeccomp(raw: unknown, target: SeccompTarget, source = 'profile'): LinuxSeccomp {
  const profile = parseProfile(raw, source);
  const arch = ARCHES[target.arch];
  if (!arch) throw new ContainerError('invalid-option', `seccomp: no profile mapping for architecture ${target.arch}`);
  const caps = new Set(target.capabilities);
  const mapped = profile.archMap?.find((a) => a.architecture === arch.seccomp);
  const architectures = mapped ? [mapped.architecture, ...(mapped.subArchitectures ?? [])] : profile.architectures ?? [arch.seccomp];
  const syscalls: LinuxSyscallRule[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule, arch.go, caps)) continue;
    const names = rule.names ?? [rule.name!];
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args?.length ? { args: rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}

export async function loadSeccompProfile(path: string, target: SeccompTarget): Promise<LinuxSeccomp> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ContainerError('invalid-option', `cannot read seccomp profile ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ContainerError('invalid-option', `seccomp profile ${path} is not JSON: ${(e as Error).message}`);
  }
  return toLinuxSeccomp(raw, target, path);
}
