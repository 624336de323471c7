import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree, type NodeFacts } from '../helpers/treeFacts.js';
import { writeContext } from '../helpers/buildCase.js';

const dirs = tempDirs();
let root: string;
let ours: string;
let theirs: string;

interface ProcessConfig {
  process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
}

beforeAll(async () => {
  await requireTools({ umoci: 'umoci' });
  root = await dirs.make();
  const context = await dirs.make();
  await writeContext(context, {
    'rootfs/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
    'rootfs/etc/group': 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n',
    'rootfs/bin/app': { content: '#!/bin/sh\necho app\n', mode: 0o755 },
    'rootfs/bin/su-like': { content: 'setuid', mode: 0o4755 },
    'rootfs/bin/sg-like': { content: 'setgid', mode: 0o2711 },
    'rootfs/etc/shadow-ish': { content: 'secret', mode: 0o640 },
    'rootfs/srv/readonly': { content: 'ro', mode: 0o444 },
    'rootfs/srv/empty': '',
    // Over 1 MiB of incompressible data: the gzip layer has several members (see ParallelGzip).
    'rootfs/var/lib/data/big': randomBytes(3_000_000).toString('base64'),
    'data.txt': 'owned by app\n',
    Dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      'COPY --chown=app:staff --chmod=600 data.txt /home/app/data.txt',
      'USER app',
      'WORKDIR /home/app',
      'ENV FOO=bar',
      'ENTRYPOINT ["/bin/app"]',
      'CMD ["arg1"]',
    ].join('\n'),
  });
  await mkdir(join(context, 'rootfs/tmp'));
  await chmod(join(context, 'rootfs/tmp'), 0o1777);
  await symlink('app', join(context, 'rootfs/bin/relative-link'));
  await symlink('/etc/passwd', join(context, 'rootfs/bin/absolute-link'));
  await symlink('../nowhere', join(context, 'rootfs/bin/dangling'));
  await run('ln', [join(context, 'rootfs/bin/app'), join(context, 'rootfs/bin/app-hardlink')]);
  const built = await tsbuild(['--root', root, '-q', '-t', 'oracle', context]);
  expect(built.stderr).toBe('');
  ours = join(await dirs.make(), 'ours');
  theirs = join(await dirs.make(), 'theirs');
  expect((await tsbuild(['--root', root, 'bundle', 'oracle', ours])).code).toBe(0);
  await run('umoci', ['unpack', '--image', `${root}/oci:localhost/oracle:latest`, theirs]);
});

afterAll(() => dirs.cleanup());

/** umoci and we agree on everything but the mtime of the rootfs directory itself, which no layer entry sets. */
function comparable(tree: Record<string, NodeFacts>): Record<string, NodeFacts> {
  const { '.': rootDir, ...rest } = tree;
  return { '.': { ...rootDir!, mtimeMs: 0 }, ...rest };
}

describe('tsbuild bundle against umoci unpack on an image tsbuild built', () => {
  it('unpacks the same tree: paths, types, modes, owners, sizes, contents, link targets, hard links', async () => {
    const ourTree = comparable(await describeTree(join(ours, 'rootfs')));
    const theirTree = comparable(await describeTree(join(theirs, 'rootfs')));
    expect(Object.keys(ourTree).length).toBeGreaterThan(15);
    expect(ourTree).toEqual(theirTree);
    expect(ourTree['bin/su-like']?.mode).toBe(0o4755);
    expect(ourTree['home/app/data.txt']).toMatchObject({ uid: 1000, gid: 50, mode: 0o600 });
    expect(ourTree['bin/app-hardlink']?.hardLinkOf ?? ourTree['bin/app']?.hardLinkOf).toBeDefined();
  });

  it('writes the same process args, env, cwd and user', async () => {
    const our = JSON.parse(await readFile(join(ours, 'config.json'), 'utf8')) as ProcessConfig;
    const their = JSON.parse(await readFile(join(theirs, 'config.json'), 'utf8')) as ProcessConfig;
    expect(our.process.args).toEqual(['/bin/app', 'arg1']);
    expect(our.process.args).toEqual(their.process.args);
    expect(our.process.cwd).toBe('/home/app');
    expect(our.process.cwd).toBe(their.process.cwd);
    expect({ uid: our.process.user.uid, gid: our.process.user.gid }).toEqual({ uid: 1000, gid: 1000 });
    expect({ uid: our.process.user.uid, gid: our.process.user.gid }).toEqual({ uid: their.process.user.uid, gid: their.process.user.gid });
    // umoci adds TERM=xterm for terminal use; our bundles are not terminals.
    expect(our.process.env.sort()).toEqual(their.process.env.filter((e) => e !== 'TERM=xterm').sort());
  });
});
