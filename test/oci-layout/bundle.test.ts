import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeContext } from '../helpers/buildCase.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { describeTree, type NodeFacts } from '../helpers/treeFacts.js';
import { createBundle, OciLayout, type Image, type RuntimeSpec } from '@tsbuild/oci-layout';

/** Prints what the container process sees, so one run checks user, cwd, args and env. */
const PROBE_C = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char cwd[512];
  if (!getcwd(cwd, sizeof cwd)) return 2;
  printf("uid=%d gid=%d cwd=%s arg=%s foo=%s\\n", (int)getuid(), (int)getgid(), cwd, argc > 1 ? argv[1] : "-", getenv("FOO"));
  return 0;
}
`;

let tmp: string;
let layoutDir: string;
let image: Image;
const containers: string[] = [];

beforeAll(async () => {
  await requireTools({ umoci: 'umoci', runc: 'runc', gcc: 'gcc', setcap: 'libcap2-bin' });
  tmp = await mkdtemp(join(tmpdir(), 'tsbuild-bundle-'));
  layoutDir = join(tmp, 'layout');
  const ref = `${layoutDir}:t`;
  const b0 = join(tmp, 'b0');
  await run('umoci', ['init', '--layout', layoutDir]);
  await run('umoci', ['new', '--image', ref]);
  await run('umoci', ['unpack', '--image', ref, b0]);

  const r = join(b0, 'rootfs');
  for (const d of ['etc', 'bin', 'usr/bin', 'data/sub', 'home/app', 'tmp', 'shared']) await mkdir(join(r, d), { recursive: true });
  await writeFile(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  await writeFile(join(r, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  await writeFile(join(tmp, 'probe.c'), PROBE_C);
  await run('gcc', ['-static', '-Os', '-o', join(r, 'bin/app'), join(tmp, 'probe.c')]);
  await chmod(join(r, 'bin/app'), 0o755);
  await writeFile(join(r, 'usr/bin/su-like'), 'not really setuid code\n');
  await chmod(join(r, 'usr/bin/su-like'), 0o4755);
  await writeFile(join(r, 'usr/bin/sg-like'), 'setgid\n');
  await chmod(join(r, 'usr/bin/sg-like'), 0o2711);
  await writeFile(join(r, 'data/secret'), 'top secret\n');
  await chmod(join(r, 'data/secret'), 0o600);
  await writeFile(join(r, 'data/shared'), 'group readable\n');
  await chmod(join(r, 'data/shared'), 0o640);
  await writeFile(join(r, 'data/empty'), '');
  await writeFile(join(r, 'data/sub/big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await writeFile(join(r, 'data/hl-a'), 'hard linked\n');
  await link(join(r, 'data/hl-a'), join(r, 'data/hl-b'));
  await link(join(r, 'data/hl-a'), join(r, 'data/sub/hl-c'));
  await symlink('../data/shared', join(r, 'bin/rel-link'));
  await symlink('/etc/passwd', join(r, 'bin/abs-link'));
  await symlink('/does/not/exist', join(r, 'bin/dangling'));
  await symlink('sub', join(r, 'data/dir-link'));
  await chmod(join(r, 'tmp'), 0o1777);
  await chmod(join(r, 'shared'), 0o2770);
  await chmod(join(r, 'data/sub'), 0o700);
  await writeFile(join(r, 'home/app/owned'), 'mine\n');
  await chown(join(r, 'home/app/owned'), 1000, 1000);
  await chown(join(r, 'home/app'), 1000, 1000);
  await chown(join(r, 'shared'), 0, 1000);
  await mkdir(join(r, 'dev'));
  await run('mknod', ['-m', '0666', join(r, 'dev/null-like'), 'c', '1', '3']);
  await run('mknod', ['-m', '0660', join(r, 'dev/loop-like'), 'b', '7', '200']);
  await run('mkfifo', ['-m', '0620', join(r, 'data/fifo')]);
  await writeFile(join(r, 'usr/bin/ping-like'), 'needs a capability\n');
  await chmod(join(r, 'usr/bin/ping-like'), 0o755);
  await run('setcap', ['cap_net_raw+ep', join(r, 'usr/bin/ping-like')]);
  await run('umoci', ['repack', '--image', ref, b0]);
  await run('umoci', [
    'config', '--image', ref,
    '--config.user', 'app',
    '--config.workingdir', '/home/app',
    '--config.entrypoint', '/bin/app',
    '--config.cmd', 'arg1',
    '--config.env', 'FOO=bar',
  ]);

  const layout = await OciLayout.open(layoutDir);
  const descriptor = await layout.findRef('t');
  if (!descriptor) throw new Error('umoci wrote no "t" tag');
  image = await layout.readImage(descriptor);
});

afterAll(async () => {
  for (const id of containers) await run('runc', ['delete', '-f', id]).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('createBundle', () => {
  it('unpacks exactly what umoci unpacks', async () => {
    const oracle = join(tmp, 'umoci-bundle');
    const ours = join(tmp, 'our-bundle');
    await run('umoci', ['unpack', '--image', `${layoutDir}:t`, oracle]);
    const result = await createBundle(image, ours);
    expect(result).toEqual({ rootfs: join(ours, 'rootfs'), configPath: join(ours, 'config.json') });

    const want = await describeTree(join(oracle, 'rootfs'));
    const got = await describeTree(join(ours, 'rootfs'));
    expect(got['usr/bin/su-like']?.mode).toBe(0o4755);
    expect(got['home/app/owned']).toMatchObject({ uid: 1000, gid: 1000 });
    expect(got['data/hl-b']?.hardLinkOf).toBe('data/hl-a');
    expect(got['dev/null-like']).toMatchObject({ type: 'char', mode: 0o666 });
    // Known divergence: our layer reader skips the layer's "./" entry, umoci
    // applies its mtime to the rootfs. Everything else must match exactly.
    delete (got['.'] as Partial<NodeFacts>).mtimeMs;
    delete (want['.'] as Partial<NodeFacts>).mtimeMs;
    expect(got).toEqual(want);
    const caps = async (root: string) => (await run('getcap', [join(root, 'usr/bin/ping-like')])).stdout.replace(root, '<rootfs>');
    expect(await caps(join(ours, 'rootfs'))).toBe(await caps(join(oracle, 'rootfs')));
    expect(await caps(join(ours, 'rootfs'))).toMatch(/cap_net_raw=ep/);
    expect((await stat(ours)).mode & 0o777).toBe(0o700);

    const umociSpec = JSON.parse(await readFile(join(oracle, 'config.json'), 'utf8')) as RuntimeSpec;
    const ourSpec = JSON.parse(await readFile(result.configPath, 'utf8')) as RuntimeSpec;
    expect(ourSpec.process.args).toEqual(umociSpec.process.args);
    expect(ourSpec.process.args).toEqual(['/bin/app', 'arg1']);
    // umoci adds TERM=xterm because its bundles ask for a terminal; ours do not.
    expect(ourSpec.process.env).toEqual(umociSpec.process.env.filter((e) => e !== 'TERM=xterm'));
    expect(ourSpec.process.cwd).toBe(umociSpec.process.cwd);
    expect(ourSpec.process.user.uid).toBe(umociSpec.process.user.uid);
    expect(ourSpec.process.user.gid).toBe(umociSpec.process.user.gid);
    expect(ourSpec.process.user.additionalGids ?? []).toEqual(umociSpec.process.user.additionalGids ?? []);
    expect(ourSpec.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(ourSpec.root).toEqual({ path: 'rootfs', readonly: false });
  });

  it('makes a bundle that runc runs', async () => {
    const dir = join(tmp, 'run-bundle');
    await createBundle(image, dir);
    const id = `tsbuild-bundle-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    containers.push(id);
    const { stdout } = await run('runc', ['run', '-b', dir, id]);
    expect(stdout).toBe('uid=1000 gid=1000 cwd=/home/app arg=arg1 foo=bar\n');
  });

  it('refuses a non-empty directory and leaves it alone', async () => {
    const dir = join(tmp, 'occupied');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'precious');
    await expect(createBundle(image, dir)).rejects.toThrow(/not empty/);
    expect(await readdir(dir)).toEqual(['keep.txt']);
    expect(await readFile(join(dir, 'keep.txt'), 'utf8')).toBe('precious');
  });

  it('accepts an empty directory, and removes only what it made when it fails', async () => {
    const brokenLayer: Image = { ...image, layers: image.layers.map((l) => ({ ...l, open: () => Promise.reject(new Error('layer blob unreadable')) })) };
    const fresh = join(tmp, 'fresh');
    await expect(createBundle(brokenLayer, fresh)).rejects.toThrow(/layer blob unreadable/);
    await expect(lstat(fresh)).rejects.toThrow(/ENOENT/);

    const empty = join(tmp, 'empty');
    await mkdir(empty);
    await expect(createBundle(brokenLayer, empty)).rejects.toThrow(/layer blob unreadable/);
    expect(await readdir(empty)).toEqual([]);

    const made = await createBundle(image, empty);
    expect((await readdir(empty)).sort()).toEqual(['config.json', 'rootfs']);
    expect((await lstat(made.rootfs)).isDirectory()).toBe(true);
  });
});

describe('tsbuild bundle with a User out of runc\'s range', () => {
  // Each passwd line gives a lookalike name uid 0; an id that wraps in a uint32 is 0 as well.
  const PASSWD = [
    'root:x:0:0:root:/root:/bin/sh',
    '4294967296:x:0:0::/:/bin/sh',
    '2147483648:x:0:0::/:/bin/sh',
    'app:x:1000:1000::/home/app:/bin/sh',
  ].join('\n');
  const GROUP = 'root:x:0:\n4294967296:x:0:\napp:x:1000:\n';

  async function buildWithUser(root: string, user: string): Promise<void> {
    const context = await mkdtemp(join(tmp, 'user-context-'));
    await writeContext(context, {
      'rootfs/etc/passwd': PASSWD,
      'rootfs/etc/group': GROUP,
      Dockerfile: `FROM scratch\nCOPY rootfs/ /\nUSER ${user}\nCMD ["/bin/app"]\n`,
    });
    const built = await tsbuild(['--root', root, '-q', '-t', 'users', context]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
  }

  it.each([
    ['4294967296', /^tsbuild: error: invalid user spec "4294967296": user "4294967296" is not a uid \(a decimal from 0 to 2147483647\)\n$/],
    ['1000:4294967296', /^tsbuild: error: invalid user spec "1000:4294967296": group "4294967296" is not a gid .*\n$/],
    ['2147483648', /^tsbuild: error: invalid user spec "2147483648": user "2147483648" is not a uid .*\n$/],
    ['-1', /^tsbuild: error: invalid user spec "-1": user "-1" is not a uid .*\n$/],
  ])('refuses User %j with one line naming the field, as umoci does, and leaves no bundle', async (user, message) => {
    const root = await mkdtemp(join(tmp, 'user-store-'));
    await buildWithUser(root, user);
    const dir = join(root, 'bundle');
    const ours = await tsbuild(['--root', root, 'bundle', 'users', dir]);
    expect(ours.stderr).toMatch(message);
    expect(ours.code).not.toBe(0);
    await expect(lstat(dir)).rejects.toThrow(/ENOENT/);
    const theirs = await run('umoci', ['unpack', '--image', `${root}/oci:localhost/users:latest`, join(root, 'umoci-bundle')]).then(
      () => 'accepted',
      (e: { stderr: string }) => e.stderr,
    );
    expect(theirs).toMatch(/uids and gids must be in range 0-2147483647/);
  });

  it.each([
    ['0:', { uid: 0, gid: 0 }],
    ['1000:', { uid: 1000, gid: 1000 }],
    ['2147483647:2147483647', { uid: 2147483647, gid: 2147483647 }],
  ])('takes User %j as umoci does', async (user, want) => {
    const root = await mkdtemp(join(tmp, 'user-store-'));
    await buildWithUser(root, user);
    const dir = join(root, 'bundle');
    expect((await tsbuild(['--root', root, 'bundle', 'users', dir])).code).toBe(0);
    const oracle = join(root, 'umoci-bundle');
    await run('umoci', ['unpack', '--image', `${root}/oci:localhost/users:latest`, oracle]);
    const ours = (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as RuntimeSpec).process.user;
    const theirs = (JSON.parse(await readFile(join(oracle, 'config.json'), 'utf8')) as RuntimeSpec).process.user;
    expect(ours).toMatchObject(want);
    expect({ uid: ours.uid, gid: ours.gid }).toEqual({ uid: theirs.uid, gid: theirs.gid });
  });

  it('unpacks an image where it lives, oci:PATH:REF with a REF holding colons as umoci reads it, the same as from the store', async () => {
    const root = await mkdtemp(join(tmp, 'user-store-'));
    await buildWithUser(root, '1000:');
    const fromStore = join(root, 'bundle');
    expect((await tsbuild(['--root', root, 'bundle', 'users', fromStore])).code).toBe(0);
    const otherRoot = await mkdtemp(join(tmp, 'empty-store-'));
    const fromLayout = join(otherRoot, 'bundle');
    const r = await tsbuild(['--root', otherRoot, 'bundle', `oci:${root}/oci:localhost/users:latest`, fromLayout]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(join(fromLayout, 'config.json'), 'utf8'))).toEqual(JSON.parse(await readFile(join(fromStore, 'config.json'), 'utf8')));
    expect(await readdir(join(fromLayout, 'rootfs'))).toEqual(await readdir(join(fromStore, 'rootfs')));
    const missing = await tsbuild(['--root', otherRoot, 'bundle', `oci:${root}/oci:localhost/nosuch:latest`, join(otherRoot, 'b2')]);
    expect(missing.stderr).toMatch(/^tsbuild: error: .*has no image named "localhost\/nosuch:latest"/);
  });
});
