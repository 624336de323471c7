import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_PATH,
  parseDigest,
  parseGroupLine,
  parsePasswdLine,
  parseUserSpec,
  resolveUser,
  toRuntimeSpec,
  UserLookupError,
  type ContainerConfig,
  type ImageConfig,
} from '@tsbuild/oci-layout';

const PASSWD = [
  '# the image passwd',
  'root:x:0:0:root:/root:/bin/sh',
  '',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'broken-line',
  'app:x:1000:1000::/home/app:/bin/sh',
  'short:x:1200:1300',
  '   ',
  // Hostile lines: names that look like ids, and ids that wrap to 0 in a uint32 or that runc refuses.
  '4294967296:x:0:0::/:/bin/sh',
  '2147483648:x:0:0::/:/bin/sh',
  '-1:x:0:0::/:/bin/sh',
  '+5:x:0:0::/:/bin/sh',
  '0x10:x:0:0::/:/bin/sh',
  'wrap:x:4294967296:4294967296::/wrap:/bin/sh',
  'neg:x:-1:-1::/neg:/bin/sh',
  'plus:x:+7:+7::/plus:/bin/sh',
  'badgid:x:1500:zero::/b:/bin/sh',
  'emptygid:x:1600:::/e:/bin/sh',
  'biggid:x:1700:2147483648::/g:/bin/sh',
].join('\n');

const GROUP = [
  'root:x:0:',
  '# comment',
  'daemon:x:1:',
  'app:x:1000:',
  'staff:x:50:app,other',
  'wheel:x:10:root,app',
  'web:x:2000:',
  'nogid:x:',
  '4294967296:x:0:',
  '2147483648:x:0:',
  'huge:x:4294967296:app',
  'negative:x:-5:app',
  'signed:x:+6:app',
].join('\n');

let tmp: string;
let rootfs: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tsbuild-runtime-spec-'));
  rootfs = join(tmp, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/passwd'), PASSWD);
  await writeFile(join(rootfs, 'etc/group'), GROUP);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function imageConfig(config: ContainerConfig, extra: Partial<ImageConfig> = {}): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [parseDigest(`sha256:${'a'.repeat(64)}`)] },
    config: { Cmd: ['/bin/true'], ...config },
    ...extra,
  };
}

describe('passwd and group lines', () => {
  it('parses full lines and skips comments, blanks and unusable lines', () => {
    expect(parsePasswdLine('app:x:1000:1000::/home/app:/bin/sh')).toEqual({ name: 'app', uid: 1000, gid: 1000, home: '/home/app' });
    expect(parsePasswdLine('short:x:7')).toEqual({ name: 'short', uid: 7, gid: 0, home: '' });
    expect(parsePasswdLine('# root:x:0:0')).toBeUndefined();
    expect(parsePasswdLine('')).toBeUndefined();
    expect(parsePasswdLine('nouid:x')).toBeUndefined();
    expect(parsePasswdLine('bad:x:abc:0')).toBeUndefined();
    expect(parseGroupLine('staff:x:50:app, other')).toEqual({ name: 'staff', gid: 50, members: ['app', 'other'] });
    expect(parseGroupLine('app:x:1000:')).toEqual({ name: 'app', gid: 1000, members: [] });
    expect(parseGroupLine('nogid:x:')).toBeUndefined();
  });

  // runc's parser reads a uid it cannot parse as 0 and keeps one it will refuse later; we skip the line.
  it.each([
    'wrap:x:4294967296:0', 'max:x:2147483648:0', 'neg:x:-1:0', 'plus:x:+1:0', 'hex:x:0x10:0', 'sp:x: 7:0', 'e:x::0',
    'gwrap:x:7:4294967296', 'gneg:x:7:-1', 'gplus:x:7:+1', 'gword:x:7:zero', 'gempty:x:7:',
  ])('skips the passwd line %j: its uid or gid is not a decimal from 0 to 2^31-1', (line) => {
    expect(parsePasswdLine(line)).toBeUndefined();
  });

  it.each(['huge:x:4294967296:a', 'big:x:2147483648:', 'neg:x:-5:', 'plus:x:+6:', 'hex:x:0x1:', 'e:x::'])('skips the group line %j', (line) => {
    expect(parseGroupLine(line)).toBeUndefined();
  });

  it('keeps the largest id runc accepts', () => {
    expect(parsePasswdLine('top:x:2147483647:2147483647::/t:/bin/sh')).toEqual({ name: 'top', uid: 2147483647, gid: 2147483647, home: '/t' });
    expect(parseGroupLine('top:x:2147483647:')).toEqual({ name: 'top', gid: 2147483647, members: [] });
  });
});

describe('parseUserSpec', () => {
  it.each([
    ['', {}],
    ['0', { user: { kind: 'id', id: 0 } }],
    ['007', { user: { kind: 'id', id: 7 } }],
    ['2147483647', { user: { kind: 'id', id: 2147483647 } }],
    ['app', { user: { kind: 'name', name: 'app' } }],
    ['app:web', { user: { kind: 'name', name: 'app' }, group: { kind: 'name', name: 'web' } }],
    ['1000:50', { user: { kind: 'id', id: 1000 }, group: { kind: 'id', id: 50 } }],
    // An empty side is absent, as moby/sys/user (runc, umoci) reads it.
    ['0:', { user: { kind: 'id', id: 0 } }],
    [':50', { group: { kind: 'id', id: 50 } }],
    [':', {}],
    [' 1000', { user: { kind: 'name', name: ' 1000' } }],
  ])('%j', (spec, want) => {
    expect(parseUserSpec(spec)).toEqual(want);
  });
});


describe('resolveUser', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [10], home: '/root' }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [] }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [] }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [50, 10], home: '/home/app' }],
    ['app:web', { uid: 1000, gid: 2000, additionalGids: [], home: '/home/app' }],
    ['app:77', { uid: 1000, gid: 77, additionalGids: [], home: '/home/app' }],
    ['1000:staff', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['4242:web', { uid: 4242, gid: 2000, additionalGids: [] }],
    ['short', { uid: 1200, gid: 1300, additionalGids: [] }],
    ['daemon', { uid: 1, gid: 1, additionalGids: [], home: '/usr/sbin' }],
  ])('resolves %j', async (spec, want) => {
    expect(await resolveUser(rootfs, spec)).toEqual(want);
  });

  it('rejects unknown names and malformed specs', async () => {
    await expect(resolveUser(rootfs, 'nobody')).rejects.toThrow(/user "nobody" not found in \/etc\/passwd/);
    await expect(resolveUser(rootfs, 'app:nogroup')).rejects.toThrow(/group "nogroup" not found in \/etc\/group/);
    await expect(resolveUser(rootfs, 'a:b:c')).rejects.toThrow(/invalid user/);
  });

  // A numeric field is a number, never a name: none of these may reach the hostile lines' uid/gid 0.
  it.each([
    ['0:', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['1000:', { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' }],
    [':50', { uid: 0, gid: 50, additionalGids: [], home: '/root' }],
    [':web', { uid: 0, gid: 2000, additionalGids: [], home: '/root' }],
    ['2147483647', { uid: 2147483647, gid: 0, additionalGids: [] }],
    ['2147483647:2147483647', { uid: 2147483647, gid: 2147483647, additionalGids: [] }],
    ['0001000', { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' }],
    ['app:0050', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['badgid', undefined],
    ['emptygid', undefined],
    ['biggid', undefined],
    ['wrap', undefined],
    ['neg', undefined],
    ['plus', undefined],
    [' 1000', undefined],
    ['app: web', undefined],
  ] as [string, object | undefined][])('resolves %j by the numbers, never by a lookalike name', async (spec, want) => {
    if (want) expect(await resolveUser(rootfs, spec)).toEqual(want);
    else await expect(resolveUser(rootfs, spec)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it.each([
    ['4294967296', /user "4294967296" is not a uid \(a decimal from 0 to 2147483647\)/],
    ['4294967295', /user "4294967295" is not a uid/],
    ['2147483648', /user "2147483648" is not a uid/],
    ['99999999999999999999999', /user "99999999999999999999999" is not a uid/],
    ['-1', /user "-1" is not a uid/],
    ['-0', /user "-0" is not a uid/],
    ['+5', /user "\+5" is not a uid/],
    ['0x10', /user "0x10" is not a uid/],
    ['1e3', /user "1e3" is not a uid/],
    ['1000 ', /user "1000 " is not a uid/],
    ['1_000', /user "1_000" is not a uid/],
    ['1000:4294967296', /group "4294967296" is not a gid \(a decimal from 0 to 2147483647\)/],
    ['1000:2147483648', /group "2147483648" is not a gid/],
    ['app:-1', /group "-1" is not a gid/],
    ['app:+0', /group "\+0" is not a gid/],
    [':0x0', /group "0x0" is not a gid/],
    ['0:1:2', /expected user\[:group\]/],
  ])('refuses %j naming the field', async (spec, message) => {
    const err = await resolveUser(rootfs, spec).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserLookupError);
    expect(err).toMatchObject({ kind: 'invalid' });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(JSON.stringify(spec));
    expect((err as Error).message).not.toContain('\n');
  });

  it('gives a user named in a group with a huge or negative gid no supplementary group from it', async () => {
    expect((await resolveUser(rootfs, 'app')).additionalGids).toEqual([50, 10]);
  });

  it('treats a rootfs without /etc/passwd as having no names, numbers still work', async () => {
    const empty = join(tmp, 'empty-rootfs');
    await mkdir(empty, { recursive: true });
    expect(await resolveUser(empty, '123:456')).toEqual({ uid: 123, gid: 456, additionalGids: [] });
    expect(await resolveUser(empty, '')).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    await expect(resolveUser(empty, 'app')).rejects.toThrow(/not found/);
  });

  it('refuses an /etc/passwd that is not a regular file instead of blocking on it', async () => {
    const odd = join(tmp, 'fifo-rootfs');
    await mkdir(join(odd, 'etc'), { recursive: true });
    await promisify(execFile)('mkfifo', [join(odd, 'etc/passwd')]);
    await expect(resolveUser(odd, 'app')).rejects.toThrow(/\/etc\/passwd of the image is not a regular file/);
  });

  it('never reads a host file through a symlinked /etc/passwd', async () => {
    const decoy = join(tmp, 'decoy');
    await mkdir(decoy, { recursive: true });
    await writeFile(join(decoy, 'passwd'), 'hostonly:x:31337:31337::/host:/bin/sh\n');
    await writeFile(join(decoy, 'group'), 'hostgroup:x:31337:\n');
    const evil = join(tmp, 'evil-rootfs');
    await mkdir(join(evil, 'etc'), { recursive: true });
    // Absolute links: followed naively on the host they land on the decoy files.
    await symlink(join(decoy, 'passwd'), join(evil, 'etc/passwd'));
    await symlink(join(decoy, 'group'), join(evil, 'etc/group'));
    await expect(resolveUser(evil, 'hostonly')).rejects.toThrow(/not found/);
    await expect(resolveUser(evil, '0:hostgroup')).rejects.toThrow(/not found/);

    // Inside the root the same link target is honoured.
    await mkdir(join(evil, decoy), { recursive: true });
    await writeFile(join(evil, decoy, 'passwd'), 'inside:x:77:88::/in:/bin/sh\n');
    expect(await resolveUser(evil, 'inside')).toEqual({ uid: 77, gid: 88, additionalGids: [], home: '/in' });
  });
});

describe('toRuntimeSpec', () => {
  it.each([
    [{ Entrypoint: ['/bin/app'], Cmd: ['a', 'b'] }, ['/bin/app', 'a', 'b']],
    [{ Entrypoint: ['/bin/app'], Cmd: null }, ['/bin/app']],
    [{ Entrypoint: null, Cmd: ['/bin/sh', '-c', 'echo'] }, ['/bin/sh', '-c', 'echo']],
    [{ Entrypoint: [], Cmd: ['x'] }, ['x']],
  ] as [ContainerConfig, string[]][])('args from %j', async (config, want) => {
    const spec = await toRuntimeSpec(imageConfig(config), { rootfs });
    expect(spec.process.args).toEqual(want);
  });

  it('runs a shell for an image with nothing to run (as runc spec and umoci do), unless args are given', async () => {
    const config = imageConfig({ Entrypoint: null, Cmd: null });
    expect((await toRuntimeSpec(config, { rootfs })).process.args).toEqual(['sh']);
    const spec = await toRuntimeSpec(config, { rootfs, args: ['/bin/echo', 'hi'] });
    expect(spec.process.args).toEqual(['/bin/echo', 'hi']);
    const overridden = await toRuntimeSpec(imageConfig({ Entrypoint: ['/e'], Cmd: ['c'] }), { rootfs, args: ['/x'] });
    expect(overridden.process.args).toEqual(['/x']);
  });

  it('adds PATH (and HOME) only when the image sets none', async () => {
    const plain = await toRuntimeSpec(imageConfig({ Env: ['FOO=bar'] }), { rootfs });
    expect(plain.process.env).toEqual([`PATH=${DEFAULT_PATH}`, 'FOO=bar', 'HOME=/root']);
    const own = await toRuntimeSpec(imageConfig({ Env: ['PATH=/opt/bin', 'HOME=/data', 'X=a=b'], User: 'app' }), { rootfs });
    expect(own.process.env).toEqual(['PATH=/opt/bin', 'HOME=/data', 'X=a=b']);
    const numeric = await toRuntimeSpec(imageConfig({ User: '4242' }), { rootfs });
    expect(numeric.process.env).toEqual([`PATH=${DEFAULT_PATH}`]);
    await expect(toRuntimeSpec(imageConfig({ Env: ['NOEQUALS'] }), { rootfs })).rejects.toThrow(/invalid Env entry "NOEQUALS"/);
  });

  it('sets cwd from WorkingDir, else /', async () => {
    expect((await toRuntimeSpec(imageConfig({}), { rootfs })).process.cwd).toBe('/');
    expect((await toRuntimeSpec(imageConfig({ WorkingDir: '/srv/app' }), { rootfs })).process.cwd).toBe('/srv/app');
  });

  it('resolves User through the rootfs', async () => {
    const spec = await toRuntimeSpec(imageConfig({ User: 'app' }), { rootfs });
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [50, 10] });
    const numeric = await toRuntimeSpec(imageConfig({ User: '4242:4343' }), { rootfs });
    expect(numeric.process.user).toEqual({ uid: 4242, gid: 4343 });
    await expect(toRuntimeSpec(imageConfig({ User: 'ghost' }), { rootfs })).rejects.toThrow(/user "ghost" not found/);
  });

  it('never turns a User out of runc\'s range into root', async () => {
    await expect(toRuntimeSpec(imageConfig({ User: '4294967296' }), { rootfs })).rejects.toThrow(/user "4294967296" is not a uid/);
    await expect(toRuntimeSpec(imageConfig({ User: '1000:4294967296' }), { rootfs })).rejects.toThrow(/group "4294967296" is not a gid/);
    await expect(toRuntimeSpec(imageConfig({ User: '2147483648' }), { rootfs })).rejects.toThrow(/user "2147483648" is not a uid/);
    expect((await toRuntimeSpec(imageConfig({ User: '0:' }), { rootfs })).process.user).toEqual({ uid: 0, gid: 0 });
  });

  it('derives annotations and lets Labels win', async () => {
    const config = imageConfig(
      {
        ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '443/tcp': {} },
        StopSignal: 'SIGTERM',
        Labels: { 'org.opencontainers.image.architecture': 'from-label', 'com.example.team': 'infra' },
      },
      {
        variant: 'v8',
        'os.version': '10.0',
        'os.features': ['a', 'b'],
        created: '2024-01-02T03:04:05Z',
        author: 'someone',
      },
    );
    const spec = await toRuntimeSpec(config, { rootfs });
    expect(spec.annotations).toEqual({
      'org.opencontainers.image.os': 'linux',
      'org.opencontainers.image.architecture': 'from-label',
      'org.opencontainers.image.variant': 'v8',
      'org.opencontainers.image.os.version': '10.0',
      'org.opencontainers.image.os.features': 'a,b',
      'org.opencontainers.image.exposedPorts': '443/tcp,53/udp,8080/tcp',
      'org.opencontainers.image.stopSignal': 'SIGTERM',
      'org.opencontainers.image.created': '2024-01-02T03:04:05Z',
      'org.opencontainers.image.author': 'someone',
      'com.example.team': 'infra',
    });
  });

  it('writes the runc-spec defaults with a writable root and docker capabilities', async () => {
    const spec = await toRuntimeSpec(imageConfig({ Volumes: { '/data': {} } }), { rootfs, rootfsPath: 'fs' });
    expect(spec.ociVersion).toBe('1.0.2-dev');
    expect(spec.root).toEqual({ path: 'fs', readonly: false });
    expect(spec.process.terminal).toBe(false);
    expect(spec.process.noNewPrivileges).toBe(true);
    for (const set of [spec.process.capabilities.bounding, spec.process.capabilities.effective, spec.process.capabilities.permitted]) {
      expect([...set].sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    }
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    expect(spec.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(spec.mounts.some((m) => m.destination === '/data')).toBe(false);
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
  });
});
