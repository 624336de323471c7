import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore, MediaType, readdirIfExists } from '@tsbuild/oci-layout';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';
import { rawTar } from '../helpers/rawLayer.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { REPO_ROOT } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon' }, async () => {
  if (!(await pathExists('/usr/share/containers/seccomp.json'))) await run('apt-get', ['install', '-y', 'golang-github-containers-common']);
});

const HELLO = 'Hello World!\nThis message was built by tsbuild FROM scratch and run by runc.\n';

/**
 * Tags `name`: busybox, then layers written straight into the store (no
 * build step per layer: a second, not minutes) up to `depth` in all. From
 * the bottom: /bottom, /gone, numbered files, halfway one that deletes
 * /gone (an OCI whiteout), more numbered files, and on top /top and /hello.
 */
async function deepImage(name: string, depth: number): Promise<void> {
  const local = await LocalStore.open(store.root);
  const base = await local.readImage('busybox');
  const count = depth - base.layers.length;
  const middle = Math.floor(count / 2);
  const hello = await readFile(join(REPO_ROOT, 'samples/hello/hello'));
  const layers = [];
  for (let i = 0; i < count; i++) {
    const tar =
      i === 0 ? await rawTar([{ name: 'bottom', content: 'bottom\n' }])
      : i === 1 ? await rawTar([{ name: 'gone', content: 'deleted halfway up\n' }])
      : i === middle ? await rawTar([{ name: '.wh.gone' }])
      : i === count - 1 ? await rawTar([{ name: 'top', content: 'top\n' }, { name: 'hello', mode: 0o755, content: hello }])
      : await rawTar([{ name: 'layers', type: 'directory' }, { name: `layers/${i}`, content: `${i}\n` }]);
    layers.push({ mediaType: MediaType.ociLayerTar, ...(await local.layout.putBlobBytes(tar)) });
  }
  const { history: _history, ...config } = base.config;
  const configDescriptor = await local.layout.putDocument(
    {
      ...config,
      config: { ...config.config, Cmd: ['/hello'] },
      rootfs: { type: 'layers', diff_ids: [...base.layers.map((l) => l.diffId), ...layers.map((l) => l.digest)] },
    },
    MediaType.ociConfig,
  );
  const manifest = await local.layout.putDocument(
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDescriptor, layers: [...base.manifest.layers, ...layers] },
    MediaType.ociManifest,
  );
  await local.tag(manifest, [name]);
}

async function ourMounts(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(store.root));
}

describe('images deeper than absolute lowerdir paths fit in a page', () => {
  it('a RUN on top of 120 layers sees the bottom and top files, not the one deleted halfway, and so does `run` of the result', async () => {
    await deepImage('deep', 120);
    const context = await dirs.make();
    await writeFile(
      join(context, 'Dockerfile'),
      'FROM localhost/deep\nRUN cat /bottom /top > /seen && if [ -e /gone ]; then echo gone is there >> /seen; else echo gone is hidden >> /seen; fi\n',
    );
    const built = await ts('build', '-t', 'ontop', context);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const out = await tsOk('run', '--rm', '--network', 'none', 'ontop', 'cat', '/seen');
    expect(out.stdout).toBe('bottom\ntop\ngone is hidden\n');
    const image = await (await LocalStore.open(store.root)).readImage('ontop');
    expect(image.layers).toHaveLength(121);
    expect(await ourMounts()).toEqual([]);
  });

  it('`run --rm --network none` of 120 layers runs the top layer\'s binary, and the whiteout halfway up hides /gone', async () => {
    await deepImage('deep', 120);
    expect(await ts('run', '--rm', '--network', 'none', 'deep')).toMatchObject({ code: 0, stdout: HELLO, stderr: '' });
    const out = await ts('run', '--rm', '--network', 'none', 'deep', 'sh', '-c', 'cat /bottom /top /layers/3 /layers/100; ls /gone');
    expect(out.stdout).toBe('bottom\ntop\n3\n100\n');
    expect(out.stderr).toMatch(/^ls: \/gone: No such file or directory\n$/);
    expect(out.code).toBe(1);
    expect(await ourMounts()).toEqual([]);
  });

  it('COPY --from a stage of 120 layers reads through its read-only overlay, whiteout included', async () => {
    await deepImage('deep', 120);
    const context = await dirs.make();
    await writeFile(join(context, 'Dockerfile'), 'FROM localhost/deep AS deep\nFROM scratch\nCOPY --from=deep /bottom /top /hello /\nCMD ["/hello"]\n');
    const built = await ts('build', '-t', 'copied', context);
    expect(built.stderr).toBe('');
    expect((await tsOk('run', '--rm', '--network', 'none', 'copied')).stdout).toBe(HELLO);
    await writeFile(join(context, 'Dockerfile'), 'FROM localhost/deep AS deep\nFROM scratch\nCOPY --from=deep /gone /\n');
    const missing = await ts('build', '-t', 'copiedgone', context);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^tsbuild: error: [^\n]*Dockerfile:3:1: COPY: [^\n]*gone[^\n]*\n$/);
    expect(await ourMounts()).toEqual([]);
  });

  it('600 layers (past what mount(2) and overlay take) fail in one line before anything is unpacked or mounted', async () => {
    await deepImage('toodeep', 600);
    const snapshots = join(store.root, 'cache', 'snapshots');
    const before = await readdirIfExists(snapshots);
    const tooDeep = 'cannot mount an overlay of 600 layers: their paths, even as short relative names, are longer than mount(2) takes (a page; about 150 layers fit)';
    const ran = await ts('run', '--rm', '--network', 'none', 'toodeep');
    expect(ran.code).toBe(125);
    expect(ran.stderr).toBe(`tsbuild: error: ${tooDeep}\n`);
    const context = await dirs.make();
    await writeFile(join(context, 'Dockerfile'), 'FROM localhost/toodeep\nRUN true\n');
    const built = await ts('build', '-t', 'ontoodeep', context);
    expect(built.code).toBe(1);
    expect(built.stderr).toBe(`tsbuild: error: ${relative(REPO_ROOT, join(context, 'Dockerfile'))}:2:1: RUN: ${tooDeep}\n`);
    expect({ mounts: await ourMounts(), snapshots: await readdirIfExists(snapshots), containers: (await tsOk('ps', '-aq')).stdout }).toEqual({
      mounts: [],
      snapshots: before,
      containers: '',
    });
    expect((await readdir(join(store.root, 'tmp'))).filter((f) => !f.startsWith('.'))).toEqual([]);
  });
});
