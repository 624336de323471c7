import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, type ImageConfig } from '@tsbuild/oci-layout';
import {
  buildContainerSpec, ContainerError, mergeEnv, normalizeCapability, parseEnv, parseMemorySize, parseRestartPolicy,
  parseSecurityOpts, parseSignal, parseTmpfs, parseUlimit, parseMount, parseVolume, readEnvFile, resolveCapabilities, type RunProfile,
} from '@tsbuild/builder';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const profile = (over: Partial<RunProfile> = {}): RunProfile => ({
  env: [], readOnly: false, network: 'none', publish: [], capAdd: [], capDrop: [], seccomp: { kind: 'default' }, noNewPrivileges: false,
  privileged: false, volumes: [], tmpfs: [], init: false, tty: false, ulimits: [], ...over,
});

const image: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [] },
  config: { Entrypoint: ['/entry'], Cmd: ['serve'], Env: ['PATH=/bin', 'MODE=prod'], WorkingDir: '/srv', User: 'app', StopSignal: 'SIGQUIT' },
};

async function rootfs(): Promise<string> {
  const dir = await dirs.make();
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  return dir;
}

const etcFiles = { hosts: '/h/hosts', hostname: '/h/hostname', resolvConf: '/h/resolv.conf' };
const ID = 'ab'.repeat(32);

describe('run options', () => {
  it('parses sizes, volumes, tmpfs, env, restart policies, signals and capabilities as docker does', () => {
    expect(parseMemorySize('64m')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('1g')).toBe(1024 ** 3);
    expect(() => parseMemorySize('1k')).toThrow(/minimum/);
    expect(() => parseMemorySize('lots')).toThrow(ContainerError);
    expect(parseVolume('/a:/b:ro')).toEqual({ source: '/a', destination: '/b', readOnly: true });
    expect(parseVolume('named:/b')).toEqual({ source: '', destination: '/b', readOnly: false, volume: { name: 'named' } });
    expect(parseVolume('/anon')).toEqual({ source: '', destination: '/anon', readOnly: false, volume: {} });
    expect(() => parseVolume('rel/path:/b')).toThrow(/absolute/);
    expect(parseMount('type=bind,source=/h,target=/c,readonly')).toEqual({ kind: 'volume', mount: { source: '/h', destination: '/c', readOnly: true } });
    expect(parseMount('type=volume,src=v,dst=/c')).toEqual({ kind: 'volume', mount: { source: '', destination: '/c', readOnly: false, volume: { name: 'v' } } });
    expect(parseMount('type=tmpfs,target=/t,tmpfs-size=1m')).toEqual({ kind: 'tmpfs', mount: { destination: '/t', options: ['noexec', 'nosuid', 'nodev', 'size=1m'] } });
    expect(() => parseMount('type=bind,target=/c')).toThrow(/absolute source/);
    expect(() => parseMount('type=volume,source=v')).toThrow(/target= is required/);
    expect(() => parseMount('type=nfs,target=/c')).toThrow(/bind, volume or tmpfs/);
    expect(() => parseMount('type=bind,source=/h,target=/c,bogus=1')).toThrow(/unknown option bogus/);
    expect(() => parseVolume('/a:rel')).toThrow(/absolute/);
    expect(parseTmpfs('/run:size=1m,exec')).toEqual({ destination: '/run', options: ['nosuid', 'nodev', 'size=1m', 'exec'] });
    expect(parseEnv(['A=1', 'FROM_HOST', 'UNSET_HERE'], { FROM_HOST: 'x' })).toEqual(['A=1', 'FROM_HOST=x']);
    expect(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3'])).toEqual(['PATH=/bin', 'A=2', 'B=3']);
    expect(parseRestartPolicy('on-failure:3')).toEqual({ kind: 'on-failure', maxRetries: 3 });
    expect(() => parseRestartPolicy('sometimes')).toThrow(ContainerError);
    expect(parseSignal('term')).toEqual({ name: 'SIGTERM', number: 15 });
    expect(parseSignal('9')).toEqual({ name: 'SIGKILL', number: 9 });
    expect(normalizeCapability('net_admin')).toBe('CAP_NET_ADMIN');
    expect(parseSecurityOpts(['seccomp=unconfined', 'no-new-privileges'])).toEqual({ seccomp: { kind: 'unconfined' }, noNewPrivileges: true });
    expect(() => parseSecurityOpts(['apparmor=x'])).toThrow(ContainerError);
  });

  it('--ulimit: NAME=SOFT[:HARD] as an rlimit; the soft limit may not exceed the hard one', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=50')).toEqual({ type: 'RLIMIT_NPROC', soft: 50, hard: 50 });
    expect(() => parseUlimit('nofile=9:8')).toThrow(ContainerError);
    expect(() => parseUlimit('bogus=1')).toThrow(/invalid --ulimit/);
  });

  it('reads env files: comments and blank lines skipped, bare names taken from our environment', async () => {
    const file = join(await dirs.make(), 'env');
    await writeFile(file, '# settings\nA=1\n\nB=two words\r\n');
    expect(await readEnvFile(file)).toEqual(['A=1', 'B=two words']);
    await expect(readEnvFile(join(file, 'missing'))).rejects.toThrow(ContainerError);
  });

  it('capabilities: docker\'s set, plus adds, minus drops; ALL both ways', () => {
    expect(resolveCapabilities([], [], false)).toEqual(expect.arrayContaining(DEFAULT_CAPABILITIES));
    expect(resolveCapabilities(['CAP_SYS_ADMIN'], ['CAP_CHOWN'], false)).toContain('CAP_SYS_ADMIN');
    expect(resolveCapabilities(['CAP_SYS_ADMIN'], ['CAP_CHOWN'], false)).not.toContain('CAP_CHOWN');
    expect(resolveCapabilities(['CAP_NET_BIND_SERVICE'], ['ALL'], false)).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(resolveCapabilities(['ALL'], [], false)).toContain('CAP_SYS_ADMIN');
    expect(() => resolveCapabilities(['CAP_NOPE'], [], false)).toThrow(/unknown capability/);
  });
});

describe('buildContainerSpec', () => {
  it('docker\'s run profile: caps, seccomp, masked paths, own cgroup, no no_new_privs, etc files bound', async () => {
    const root = await rootfs();
    const spec = await buildContainerSpec({ id: ID, image, rootfs: root, command: [], profile: profile(), etcFiles, arch: 'x64' });
    expect(spec.process.args).toEqual(['/entry', 'serve']);
    expect(spec.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(spec.process.cwd).toBe('/srv');
    expect(spec.process.noNewPrivileges).toBe(false);
    expect(spec.process.capabilities.effective).toEqual(expect.arrayContaining(DEFAULT_CAPABILITIES));
    expect(spec.process.capabilities.effective).toHaveLength(DEFAULT_CAPABILITIES.length);
    expect(spec.root).toEqual({ path: root, readonly: false });
    expect(spec.hostname).toBe(ID.slice(0, 12));
    expect(spec.linux.cgroupsPath).toBe(`/tsbuild/${ID}`);
    expect(spec.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(spec.linux.seccomp?.architectures[0]).toBe('SCMP_ARCH_X86_64');
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(spec.mounts.filter((m) => m.destination.startsWith('/etc/')).map((m) => [m.destination, m.source])).toEqual([
      ['/etc/hosts', '/h/hosts'], ['/etc/hostname', '/h/hostname'], ['/etc/resolv.conf', '/h/resolv.conf'],
    ]);
    expect(spec.linux.resources.memory).toBeUndefined();
  });

  it('the command line overrides: command, --entrypoint, -e, -w, -u, limits, mounts, host network, read-only', async () => {
    const root = await rootfs();
    const spec = await buildContainerSpec({
      id: ID, image, rootfs: root, command: ['-x'], arch: 'x64', etcFiles,
      profile: profile({
        entrypoint: ['/bin/sh'], env: ['MODE=dev', 'NEW=1'], workdir: '/tmp', user: '0', hostname: 'box', readOnly: true, network: 'host',
        memory: 64 * 1024 * 1024, cpus: 1.5, pidsLimit: 50, noNewPrivileges: true, seccomp: { kind: 'unconfined' },
        volumes: [{ source: '/srv/data', destination: '/data', readOnly: true }], tmpfs: [{ destination: '/run', options: ['nosuid'] }],
      }),
    });
    expect(spec.process.args).toEqual(['/bin/sh', '-x']);
    expect(spec.process.env).toEqual(['PATH=/bin', 'MODE=dev', 'NEW=1', 'HOME=/root']);
    expect(spec.process.cwd).toBe('/tmp');
    expect(spec.process.user).toMatchObject({ uid: 0, gid: 0 });
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.hostname).toBe('box');
    expect(spec.root.readonly).toBe(true);
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.namespaces.map((n) => n.type)).not.toContain('network');
    expect(spec.mounts.find((m) => m.destination === '/sys')).toMatchObject({ type: 'bind', source: '/sys' });
    expect(spec.linux.resources).toMatchObject({ memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, cpu: { quota: 150_000, period: 100_000 }, pids: { limit: 50 } });
    expect(spec.mounts).toContainEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rprivate', 'ro'] });
    expect(spec.mounts).toContainEqual({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  });

  it('--privileged: every capability, no seccomp, nothing masked, all devices allowed', async () => {
    const spec = await buildContainerSpec({ id: ID, image, rootfs: await rootfs(), command: [], profile: profile({ privileged: true }), etcFiles, arch: 'x64' });
    expect(spec.process.capabilities.bounding).toContain('CAP_SYS_ADMIN');
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });
});
