import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '@tsbuild/oci-layout';
import { buildCase, writeContext } from '../helpers/buildCase.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

// Lookalike names with uid/gid 0: a numeric spec must never be looked up as one of them.
const FILES = {
  'rootfs/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n4294967296:x:0:0::/:/bin/sh\n2147483648:x:0:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nwrap:x:4294967296:4294967296::/:/bin/sh\n',
  'rootfs/etc/group': 'root:x:0:\n4294967296:x:0:\nstaff:x:50:app\n',
  'data.txt': 'data\n',
};

async function build(dockerfile: string): Promise<{ code: number | null; stderr: string }> {
  const context = await dirs.make('tsbuild-users-');
  await writeContext(context, { ...FILES, Dockerfile: `FROM scratch\nCOPY rootfs/ /\n${dockerfile}\n` });
  return tsbuild(['--root', join(context, 'store'), '-q', '-t', 'users', context]);
}

describe('COPY --chown, WORKDIR under USER and RUN under USER read user specs as bundle does', () => {
  it.each([
    ['COPY --chown=4294967296 data.txt /d', 'user "4294967296" is not a uid'],
    ['COPY --chown=1000:4294967296 data.txt /d', 'group "4294967296" is not a gid'],
    ['COPY --chown=2147483648:0 data.txt /d', 'user "2147483648" is not a uid'],
    ['COPY --chown=app:-1 data.txt /d', 'group "-1" is not a gid'],
    ['COPY --chown=+0 data.txt /d', 'user "+0" is not a uid'],
    ['COPY --chown=wrap data.txt /d', 'user "wrap" not found in /etc/passwd'],
    ['USER 4294967296\nWORKDIR /new', 'user "4294967296" is not a uid'],
    ['USER 1000:2147483648\nRUN true', 'group "2147483648" is not a gid'],
    ['USER 0x0\nRUN true', 'user "0x0" is not a uid'],
  ])('%j fails the build with one line', async (dockerfile, message) => {
    const r = await build(dockerfile);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each([
    ['COPY --chown=1000 data.txt /d', { uid: 1000, gid: 1000 }],
    ['COPY --chown=1000: data.txt /d', { uid: 1000, gid: 1000 }],
    ['COPY --chown=2147483647:50 data.txt /d', { uid: 2147483647, gid: 50 }],
    ['COPY --chown=app:staff data.txt /d', { uid: 1000, gid: 50 }],
    ['COPY --chown=0:staff data.txt /d', { uid: 0, gid: 50 }],
    ['COPY --chown=:staff data.txt /d', { uid: 0, gid: 50 }],
    ['USER 2147483647:7\nWORKDIR /d', { uid: 2147483647, gid: 7 }],
  ])('%j owns the file by the numbers', async (dockerfile, want) => {
    const work = await dirs.make('tsbuild-users-');
    const store = await LocalStore.open(join(work, 'store'));
    const built = await buildCase(work, store, FILES, `FROM scratch\nCOPY rootfs/ /\n${dockerfile}\n`);
    expect(built.tree['d']).toMatchObject(want);
  });
});
