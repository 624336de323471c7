import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon' });

interface VolumeJson { Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string>; Scope: string }

describe('volumes', () => {
  it('create, ls, inspect, rm', async () => {
    expect((await tsOk('volume', 'create', '--label', 'team=a', 'v1')).stdout).toBe('v1\n');
    expect((await tsOk('volume', 'ls')).stdout).toBe('DRIVER    VOLUME NAME\nlocal     v1\n');
    const [v] = JSON.parse((await tsOk('volume', 'inspect', 'v1')).stdout) as VolumeJson[];
    expect(v).toMatchObject({ Name: 'v1', Driver: 'local', Mountpoint: join(store.root, 'volumes', 'v1', '_data'), Labels: { team: 'a' }, Scope: 'local' });
    expect((await tsOk('volume', 'rm', 'v1')).stdout).toBe('v1\n');
    expect(await pathExists(join(store.root, 'volumes', 'v1'))).toBe(false);
    const missing = await ts('volume', 'inspect', 'v1');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no such volume: v1/);
  });

  it('-v NAME:/path creates the volume on first use; its data outlives the container', async () => {
    await tsOk('run', '--rm', '--network', 'none', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f');
    expect(await readFile(join(store.root, 'volumes', 'data', '_data', 'f'), 'utf8')).toBe('kept\n');
    expect((await tsOk('run', '--rm', '--network', 'none', '-v', 'data:/data:ro', 'busybox', 'cat', '/data/f')).stdout).toBe('kept\n');
    const ro = await ts('run', '--rm', '--network', 'none', '-v', 'data:/data:ro', 'busybox', 'sh', '-c', 'echo x > /data/g');
    expect(ro.code).not.toBe(0);
  });

  it('a new volume gets the image\'s content at its path (copy-up); a used one does not', async () => {
    expect((await tsOk('run', '--rm', '--network', 'none', '-v', 'etc:/etc', 'busybox', 'cat', '/etc/group')).stdout).toBe('root:x:0:\napp:x:1000:\n');
    expect(await readFile(join(store.root, 'volumes', 'etc', '_data', 'passwd'), 'utf8')).toContain('app:x:1000');
    // The volume's root is owned as the image's directory is: app (1000) can write in its home.
    expect((await tsOk('run', '--rm', '--network', 'none', '-u', 'app', '-v', 'home:/home/app', 'busybox', 'sh', '-c', 'touch /home/app/x && stat -c %u /home/app')).stdout).toBe('1000\n');
    await writeFile(join(store.root, 'volumes', 'etc', '_data', 'group'), 'changed\n');
    expect((await tsOk('run', '--rm', '--network', 'none', '-v', 'etc:/etc', 'busybox', 'cat', '/etc/group')).stdout).toBe('changed\n');
  });

  it('--mount type=volume, bind and tmpfs', async () => {
    const hostDir = await dirs.make();
    await writeFile(join(hostDir, 'h'), 'from host\n');
    const script = 'cat /b/h; echo v > /v/x; echo t > /t/x; grep " /t " /proc/mounts | cut -d" " -f3; echo no > /b/w || echo ro-bind';
    const out = await tsOk('run', '--rm', '--network', 'none',
      '--mount', 'type=volume,source=mnt,target=/v',
      '--mount', `type=bind,source=${hostDir},target=/b,readonly`,
      '--mount', 'type=tmpfs,target=/t',
      'busybox', 'sh', '-c', script);
    expect(out.stdout).toBe('from host\ntmpfs\nro-bind\n');
    expect(await readFile(join(store.root, 'volumes', 'mnt', '_data', 'x'), 'utf8')).toBe('v\n');
    const bad = await ts('run', '--rm', '--mount', 'type=bind,source=/nonexistent-tsbuild,target=/x', 'busybox', 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('volume rm refuses a volume a container uses; rm -v removes anonymous volumes only', async () => {
    await tsOk('run', '--name', 'user', '--network', 'none', '-v', 'shared:/s', '-v', '/anon', 'busybox', 'sh', '-c', 'echo a > /anon/a');
    const refused = await ts('volume', 'rm', 'shared');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/volume shared is in use by container user/);
    const [mount] = (JSON.parse((await tsOk('container', 'inspect', 'user')).stdout) as { Mounts: { Type: string; Name: string; Destination: string }[] }[])[0]!.Mounts
      .filter((m) => m.Destination === '/anon');
    expect(mount!.Type).toBe('volume');
    expect(await readFile(join(store.root, 'volumes', mount!.Name, '_data', 'a'), 'utf8')).toBe('a\n');
    await tsOk('rm', '-v', 'user');
    expect(await pathExists(join(store.root, 'volumes', mount!.Name))).toBe(false);
    expect(await pathExists(join(store.root, 'volumes', 'shared'))).toBe(true);
    await tsOk('volume', 'rm', 'shared');
  });

  it('prune removes unused anonymous volumes, and with -a named ones too', async () => {
    await tsOk('run', '--name', 'keeper', '--network', 'none', '-v', 'busy:/b', 'busybox', 'true');
    await tsOk('run', '--name', 'anon', '--network', 'none', '-v', '/a', 'busybox', 'true');
    await tsOk('rm', 'anon');
    await tsOk('volume', 'create', 'idle');
    const pruned = (await tsOk('volume', 'prune', '-f')).stdout;
    expect(pruned).toMatch(/^Deleted Volumes:\n[0-9a-f]{64}\n$/);
    expect((await tsOk('volume', 'prune', '-f', '-a')).stdout).toBe('Deleted Volumes:\ndata\netc\nhome\nidle\nmnt\n');
    expect((await tsOk('volume', 'ls', '-q')).stdout).toBe('busy\n');
  });

  it('an image\'s VOLUME gets an anonymous volume holding the image\'s files; --rm and rm -v remove it', async () => {
    await tsOk('run', '--name', 'seed', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir /vol && echo seeded > /vol/s');
    await tsOk('commit', '-c', 'VOLUME /vol', 'seed', 'withvol');
    await tsOk('rm', 'seed');
    const before = (await tsOk('volume', 'ls', '-q')).stdout;
    expect((await tsOk('run', '--rm', '--network', 'none', 'withvol', 'cat', '/vol/s')).stdout).toBe('seeded\n');
    expect((await tsOk('volume', 'ls', '-q')).stdout).toBe(before);
    await tsOk('run', '--name', 'kept', '--network', 'none', 'withvol', 'sh', '-c', 'echo more >> /vol/s');
    const mounts = (JSON.parse((await tsOk('container', 'inspect', 'kept')).stdout) as { Mounts: { Type: string; Name: string; Destination: string }[] }[])[0]!.Mounts;
    const vol = mounts.find((m) => m.Destination === '/vol')!;
    expect(vol.Type).toBe('volume');
    expect(await readFile(join(store.root, 'volumes', vol.Name, '_data', 's'), 'utf8')).toBe('seeded\nmore\n');
    // Its mount point is no change of the container's.
    expect((await tsOk('diff', 'kept')).stdout).toBe('');
    await tsOk('rm', '-v', 'kept');
    expect((await tsOk('volume', 'ls', '-q')).stdout).toBe(before);
  });

  it('a bad volume name is a one-line error and leaves nothing', async () => {
    await mkdir(join(store.root, 'volumes'), { recursive: true });
    const bad = await ts('run', '--rm', '-v', 'x:/data', 'busybox', 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid volume name "x"/);
    expect(await pathExists(join(store.root, 'volumes', 'x'))).toBe(false);
  });
});
