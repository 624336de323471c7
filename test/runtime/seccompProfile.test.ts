import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from '@tsbuild/oci-layout';
import { ContainerError, toLinuxSeccomp } from '@tsbuild/builder';

const profile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 38,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }], includes: {}, excludes: {} },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['sync_file_range2'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['ppc64le'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: null, excludes: { arches: ['amd64'] } },
  ],
};

describe('toLinuxSeccomp', () => {
  it('keeps rules for this architecture and capability set, in runtime-spec form', () => {
    const out = toLinuxSeccomp(profile, { arch: 'x64', capabilities: DEFAULT_CAPABILITIES });
    expect(out).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ],
    });
  });

  it('a capability switches its rules: included with it, excluded without', () => {
    const out = toLinuxSeccomp(profile, { arch: 'arm64', capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
    expect(out.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(out.syscalls.map((s) => `${s.names.join(',')}:${s.action}`)).toEqual([
      'read,write:SCMP_ACT_ALLOW',
      'personality:SCMP_ACT_ALLOW',
      'mount:SCMP_ACT_ALLOW',
      'socket:SCMP_ACT_ERRNO',
    ]);
  });

  it('converts the real containers-common profile: the CAP_SYS_ADMIN rules follow the capability, swapon is never allowed', async () => {
    const raw = JSON.parse(await readFile('/usr/share/containers/seccomp.json', 'utf8')) as unknown;
    const plain = toLinuxSeccomp(raw, { arch: 'x64', capabilities: DEFAULT_CAPABILITIES });
    const allowed = (s: typeof plain) => new Set(s.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
    expect(allowed(plain).has('read')).toBe(true);
    const refused = (s: typeof plain) => s.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO').flatMap((r) => r.names);
    expect(refused(plain)).toContain('quotactl');
    expect(allowed(plain).has('quotactl')).toBe(false);
    const admin = toLinuxSeccomp(raw, { arch: 'x64', capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
    expect(refused(admin)).not.toContain('quotactl');
    expect(allowed(admin).has('quotactl')).toBe(true);
    expect(allowed(admin).has('swapon')).toBe(false);
    expect(plain.syscalls.every((r) => r.names.length > 0)).toBe(true);
  });

  it('a profile that is not one is a one-line error', () => {
    expect(() => toLinuxSeccomp({ syscalls: [] }, { arch: 'x64', capabilities: [] }, 'x.json')).toThrow(ContainerError);
    expect(() => toLinuxSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'] }] }, { arch: 'x64', capabilities: [] }, 'x.json')).toThrow(/x\.json: a syscall rule has no action/);
  });
});
