import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { REPO_ROOT, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { BLOCK, header, padded } from '../helpers/tarBlocks.js';

const dirs = tempDirs();
let root: string;
let rootfsTar: string;
const containers: string[] = [];

beforeAll(async () => {
  await requireTools({ runc: 'runc', zstd: 'zstd', skopeo: 'skopeo' });
  await run('make', ['-s', '-C', join(REPO_ROOT, 'samples/hello'), 'hello']);
  root = await dirs.make();
  const rootfs = await dirs.make();
  await mkdir(join(rootfs, 'bin'));
  await mkdir(join(rootfs, 'etc'));
  await copyFile(join(REPO_ROOT, 'samples/hello/hello'), join(rootfs, 'bin/hello'));
  await writeFile(join(rootfs, 'etc/os-release'), 'ID=tiny\n');
  rootfsTar = join(await dirs.make(), 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', rootfsTar, '.']);
});

afterAll(async () => {
  for (const id of containers) await run('runc', ['delete', '-f', id]).catch(() => undefined);
  await dirs.cleanup();
});

describe('tsbuild import', () => {
  it('turns a rootfs tarball into a one-layer base image that builds and runs', async () => {
    const imported = await tsbuild(['--root', root, 'import', rootfsTar, 'tiny:1']);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const info = JSON.parse((await tsbuild(['--root', root, 'inspect', 'tiny:1'])).stdout) as { manifest: { layers: { mediaType: string }[] }; config: { rootfs: { diff_ids: string[] } } };
    expect(info.manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip']);
    // The tar is kept as it is: its digest is the layer's diff_id.
    const { stdout: sum } = await run('sha256sum', [rootfsTar]);
    expect(info.config.rootfs.diff_ids).toEqual([`sha256:${sum.split(' ')[0]}`]);

    const context = await dirs.make();
    await writeFile(join(context, 'Dockerfile'), 'FROM localhost/tiny:1\nCMD ["/bin/hello"]\n');
    expect((await tsbuild(['--root', root, '-q', '-t', 'tiny-app', context])).code).toBe(0);
    const bundle = join(await dirs.make(), 'b');
    expect((await tsbuild(['--root', root, 'bundle', 'tiny-app', bundle])).code).toBe(0);
    expect(await readFile(join(bundle, 'rootfs/etc/os-release'), 'utf8')).toBe('ID=tiny\n');
    const id = `tsbuild-import-${process.pid}`;
    containers.push(id);
    expect((await run('runc', ['run', '-b', bundle, id])).stdout).toMatch(/^Hello World!/);
  });

  it('reads gzip and zstd tarballs and standard input, giving the same diff_id', async () => {
    await run('gzip', ['-k', '-f', rootfsTar]);
    await run('zstd', ['-q', '-f', rootfsTar, '-o', `${rootfsTar}.zst`]);
    const diffIds = new Set<string>();
    for (const [source, input] of [[`${rootfsTar}.gz`, undefined], [`${rootfsTar}.zst`, undefined], ['-', await readFile(rootfsTar)]] as const) {
      const out = await tsbuild(['--root', root, 'import', '--compression', 'zstd', source, 'variant'], input === undefined ? {} : { input });
      expect(out.code, source).toBe(0);
      const info = JSON.parse((await tsbuild(['--root', root, 'inspect', 'variant'])).stdout) as { config: { rootfs: { diff_ids: string[] } } };
      diffIds.add(info.config.rootfs.diff_ids[0]!);
    }
    expect(diffIds.size).toBe(1);
    await run('skopeo', ['inspect', `oci:${root}/oci:localhost/variant:latest`]);
  });

  it('takes the tars layer reading takes: a header whose checksum counts bytes as signed (old tars)', async () => {
    const oldTar = join(await dirs.make(), 'old.tar');
    await writeFile(oldTar, Buffer.concat([header({ name: 'caf\u00e9', size: 3 }, 'signed'), padded(Buffer.from('old')), Buffer.alloc(2 * BLOCK)]));
    const out = await tsbuild(['--root', root, 'import', oldTar, 'old:1']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const bundle = join(await dirs.make(), 'b');
    expect((await tsbuild(['--root', root, 'bundle', 'old:1', bundle])).code).toBe(0);
    expect(await readFile(join(bundle, 'rootfs', 'caf\u00e9'), 'utf8')).toBe('old');
  });

  it('refuses a tar that breaks off inside a member, as layer reading would', async () => {
    const cut = join(await dirs.make(), 'cut.tar');
    await writeFile(cut, Buffer.concat([header({ name: 'big', size: 4 * BLOCK }), Buffer.alloc(BLOCK)]));
    const out = await tsbuild(['--root', root, 'import', cut, 'cut']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^tsbuild: error: .*cut\.tar is not a readable tar archive: the archive ends in the middle of a member\n$/);
  });

  it('refuses what is not a tar archive and leaves the store as it was', async () => {
    const before = await readFile(join(root, 'oci', 'index.json'));
    const junk = join(await dirs.make(), 'junk.tar');
    await writeFile(junk, 'this is not a tar archive at all, just some text that goes on for a while. '.repeat(20));
    const out = await tsbuild(['--root', root, 'import', junk, 'junk']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^tsbuild: error: .*junk\.tar is not a tar archive/);
    const missing = await tsbuild(['--root', root, 'import', '/no/such/file.tar', 'junk']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/i);
    expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(before);
  });
});
