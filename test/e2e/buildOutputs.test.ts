import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { writeContext } from '../helpers/buildCase.js';
import { rawTar } from '../helpers/rawLayer.js';
import { requireTools, run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree, type NodeFacts } from '../helpers/treeFacts.js';

const dirs = tempDirs();
let root: string;
let context: string;
let out: string;
/** What the one build with every output printed last: the image's digest. */
let printed: string;

interface Inspected { digest: string; manifest: { config: { digest: string } } }
const inspect = async (store: string, ref: string) => JSON.parse((await tsbuildOk(['--root', store, 'inspect', ref])).stdout) as Inspected;

/** The unpacked tree, but for the mtime of its top directory, which no layer sets. */
async function treeOf(dir: string): Promise<Record<string, NodeFacts>> {
  const { '.': top, ...rest } = await describeTree(dir);
  return { '.': { ...top!, mtimeMs: 0 }, ...rest };
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo', umoci: 'umoci' });
  root = await dirs.make();
  out = await dirs.make();
  context = await dirs.make();
  await importBusybox(root);
  await writeContext(context, {
    'rootfs/bin/app': { content: '#!/bin/sh\necho app\n', mode: 0o755 },
    'rootfs/bin/su-like': { content: 'setuid', mode: 0o4755 },
    'rootfs/etc/shadow-ish': { content: 'secret', mode: 0o640 },
    'rootfs/srv/gone': 'removed by a later layer',
    'rootfs/srv/kept': 'kept',
    'data.txt': 'owned by app\n',
    Dockerfile: [
      'FROM busybox',
      'COPY rootfs/ /',
      'COPY --chown=app:app --chmod=600 data.txt /home/app/data.txt',
      'RUN rm /srv/gone && mkdir -p /var/made && echo ran > /var/made/by-run && ln -s ../made/by-run /var/made/link',
    ].join('\n'),
  });
  await mkdir(join(context, 'rootfs/scratch'));
  await chmod(join(context, 'rootfs/scratch'), 0o1777);
  await symlink('app', join(context, 'rootfs/bin/relative-link'));
  await symlink('/etc/passwd', join(context, 'rootfs/bin/absolute-link'));
  await symlink('../nowhere', join(context, 'rootfs/bin/dangling'));
  await run('ln', [join(context, 'rootfs/bin/app'), join(context, 'rootfs/bin/app-hardlink')]);
  await mkdir(join(out, 'existing-layout'));
  const built = await tsbuildOk(['--root', root, 'build', '-t', 'out-a', '-t', 'out-b',
    '-o', `type=oci,dest=${join(out, 'image.oci.tar')}`,
    '--output', `type=oci,dest=${join(out, 'layout')},tar=false`,
    '--output', `type=oci,dest=${join(out, 'existing-layout')}`,
    '-o', `type=docker,dest=${join(out, 'image.docker.tar')}`,
    '-o', `type=local,dest=${join(out, 'rootfs')}`,
    '-o', `type=tar,dest=${join(out, 'rootfs.tar')}`,
    '-o', join(out, 'shorthand'),
    '--iidfile', join(out, 'iid'),
    '--metadata-file', join(out, 'metadata.json'),
    context]);
  printed = built.stdout.trimEnd().split('\n').at(-1)!;
}, 240_000);

afterAll(() => dirs.cleanup());

describe('build --output, each read back by its own reader', () => {
  it('type=oci writes an oci-archive that skopeo reads, and with tar=false or onto a directory an OCI layout that umoci unpacks', async () => {
    const { digest } = await inspect(root, 'out-a');
    expect(printed).toBe(digest);
    for (const name of ['out-a', 'out-b']) {
      const seen = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${join(out, 'image.oci.tar')}:localhost/${name}:latest`])).stdout) as { Digest: string };
      expect(seen.Digest).toBe(digest);
    }
    for (const layout of ['layout', 'existing-layout']) {
      expect(JSON.parse(await readFile(join(out, layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      const seen = JSON.parse((await run('skopeo', ['inspect', `oci:${join(out, layout)}:localhost/out-b:latest`])).stdout) as { Digest: string };
      expect(seen.Digest).toBe(digest);
    }
    const unpacked = join(await dirs.make(), 'bundle');
    await run('umoci', ['unpack', '--image', `${join(out, 'layout')}:localhost/out-a:latest`, unpacked]);
    expect(await treeOf(join(unpacked, 'rootfs'))).toEqual(await treeOf(join(out, 'rootfs')));
  });

  it('type=docker writes a docker-load archive with the tags as RepoTags, which load brings back with the same digest', async () => {
    const fresh = await dirs.make();
    const loaded = await tsbuildOk(['--root', fresh, 'load', '-i', join(out, 'image.docker.tar')]);
    expect(loaded.stdout).toBe('Loaded image: localhost/out-a:latest\nLoaded image: localhost/out-b:latest\n');
    expect((await inspect(fresh, 'out-b')).digest).toBe((await inspect(root, 'out-a')).digest);
    const other = await dirs.make();
    await tsbuildOk(['--root', other, 'copy', `docker-archive:${join(out, 'image.docker.tar')}:localhost/out-b:latest`, 'copied']);
    expect((await inspect(other, 'copied')).manifest.config.digest).toBe((await inspect(root, 'out-a')).manifest.config.digest);
  });

  it('type=local (and -o DIR) unpacks the final filesystem: the tree umoci unpacks from the store, whiteouts applied', async () => {
    const theirs = join(await dirs.make(), 'bundle');
    await run('umoci', ['unpack', '--image', `${root}/oci:localhost/out-a:latest`, theirs]);
    const ours = await treeOf(join(out, 'rootfs'));
    expect(ours).toEqual(await treeOf(join(theirs, 'rootfs')));
    expect(await treeOf(join(out, 'shorthand'))).toEqual(ours);
    expect(ours['srv/gone']).toBeUndefined();
    expect(ours['srv/kept']).toMatchObject({ type: 'file', size: 4 });
    expect(ours['bin/su-like']).toMatchObject({ type: 'file', mode: 0o4755 });
    expect(ours['scratch']).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(ours['home/app/data.txt']).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600 });
    expect(ours['bin/absolute-link']).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
    expect(ours['var/made/link']).toMatchObject({ type: 'symlink', target: '../made/by-run' });
    expect(ours['bin/app-hardlink']?.hardLinkOf ?? ours['bin/app']?.hardLinkOf).toBeDefined();
  });

  it('type=tar writes the final filesystem as a tar that tar -t lists path for path, and dest=- sends it to stdout', async () => {
    const listing = (await run('tar', ['-tf', join(out, 'rootfs.tar')])).stdout.split('\n').filter(Boolean).map((p) => p.replace(/\/$/, ''));
    const tree = Object.keys(await describeTree(join(out, 'rootfs'))).filter((p) => p !== '.');
    expect([...listing].sort()).toEqual([...tree].sort());
    const verbose = (await run('tar', ['-tvf', join(out, 'rootfs.tar')])).stdout;
    expect(verbose).toMatch(/^-rwsr-xr-x 0\/0 .* bin\/su-like$/m);
    expect(verbose).toMatch(/^lrwxrwxrwx 0\/0 .* bin\/absolute-link -> \/etc\/passwd$/m);
    expect(verbose).toMatch(/^-rw------- 1000\/1000 .* home\/app\/data\.txt$/m);
    expect(verbose).toMatch(/ bin\/app(-hardlink)? link to bin\/app(-hardlink)?$/m);

    // The build is cached now; stdout carries only the tar, the progress and digest go to stderr.
    const piped = join(out, 'piped.tar');
    const stderr = join(out, 'piped.err');
    await run('sh', ['-c', `"${process.execPath}" "${TSBUILD_BIN}" --root "${root}" build -t out-a -o - "${context}" > "${piped}" 2> "${stderr}"`]);
    expect((await run('tar', ['-tf', piped])).stdout).toBe((await run('tar', ['-tf', join(out, 'rootfs.tar')])).stdout);
    expect((await readFile(stderr, 'utf8')).trimEnd().split('\n').at(-1)).toBe(printed);
  });

  it('type=docker,dest=- sends the archive to stdout, as `docker buildx build -o type=docker,dest=- . | docker load`', async () => {
    const piped = join(out, 'piped.docker.tar');
    await run('sh', ['-c', `"${process.execPath}" "${TSBUILD_BIN}" --root "${root}" build -q -t out-a -o type=docker,dest=- "${context}" > "${piped}"`]);
    const fresh = await dirs.make();
    expect((await tsbuildOk(['--root', fresh, 'load', '-i', piped])).stdout).toBe('Loaded image: localhost/out-a:latest\n');
    expect((await inspect(fresh, 'out-a')).digest).toBe(printed);
  });

  it('--iidfile holds the image ID as -q prints it, --metadata-file what buildx writes, both as inspect shows the image', async () => {
    const image = await inspect(root, 'out-a');
    expect(await readFile(join(out, 'iid'), 'utf8')).toBe(image.digest);
    const manifestBytes = (await run('skopeo', ['inspect', '--raw', `oci:${root}/oci:localhost/out-a:latest`])).stdout;
    expect(JSON.parse(await readFile(join(out, 'metadata.json'), 'utf8'))).toEqual({
      'containerimage.digest': image.digest,
      'containerimage.config.digest': image.manifest.config.digest,
      'containerimage.descriptor': { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest, size: Buffer.byteLength(manifestBytes) },
      'image.name': 'localhost/out-a:latest,localhost/out-b:latest',
    });
  });

  it('type=local never follows the image\'s links out of DIR', async () => {
    const outside = await dirs.make();
    const tarball = join(await dirs.make(), 'hostile.tar');
    await writeFile(tarball, await rawTar([
      { name: 'escape', type: 'symlink', linkname: outside },
      { name: 'escape/pwned', content: 'absolute' },
      { name: 'up', type: 'symlink', linkname: `../../../../../../..${outside}` },
      { name: 'up/pwned-too', content: 'relative' },
    ]));
    await tsbuildOk(['--root', root, 'import', tarball, 'hostile']);
    const hostileContext = await dirs.make();
    await writeFile(join(hostileContext, 'Dockerfile'), 'FROM hostile\nLABEL hostile=yes\n');
    const dest = join(await dirs.make(), 'unpacked');
    await tsbuildOk(['--root', root, 'build', '-q', '-o', `type=local,dest=${dest}`, hostileContext]);
    expect(await readdir(outside)).toEqual([]);
    expect(await readFile(join(dest, outside, 'pwned'), 'utf8')).toBe('absolute');
    expect(await readFile(join(dest, outside, 'pwned-too'), 'utf8')).toBe('relative');
  });
});

describe('build --push', () => {
  it('pushes to the registry each tag names, with --creds and --tls-verify as push takes them; skopeo reads both tags', async () => {
    const { startRegistry } = await import('../helpers/registryHarness.js');
    const registry = await startRegistry({ kind: 'htpasswd', user: 'builder', password: 's3cret' });
    try {
      const home = await dirs.make();
      const { credentialEnv } = await import('../helpers/credentialEnv.js');
      const env = credentialEnv(home);
      const tags = [`${registry.host}/team/app:v1`, `${registry.host}/team/app:v2`];
      const refused = await tsbuild(['--root', root, 'build', '-q', '-t', tags[0]!, '--push', '--tls-verify=false', context], { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^tsbuild: error: .*(401|UNAUTHORIZED|unauthorized)/);
      const pushed = await tsbuildOk(['--root', root, 'build', '-t', tags[0]!, '-t', tags[1]!, '--push', '--tls-verify=false', '--creds', 'builder:s3cret', context], { env });
      expect(pushed.stdout).toContain(`to docker://${tags[1]}`);
      const { digest } = await inspect(root, tags[0]!);
      for (const tag of tags) {
        const seen = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'builder:s3cret', `docker://${tag}`], { env: { ...process.env, ...env } })).stdout) as { Digest: string };
        expect(seen.Digest).toBe(digest);
      }
    } finally {
      await registry.stop();
    }
  }, 120_000);
});

describe('bad --output, --push, --iidfile', () => {
  const CASES: { name: string; args: (dir: string) => string[]; says: RegExp }[] = [
    { name: 'unknown type', args: (d) => ['-o', `type=zip,dest=${d}/x`], says: /unknown type "zip"/ },
    { name: 'type=registry (use --push)', args: (d) => ['-o', `type=registry,dest=${d}/x`], says: /--push/ },
    { name: 'no type', args: (d) => ['-o', `dest=${d}/x`], says: /no type=/ },
    { name: 'missing dest', args: () => ['-o', 'type=tar'], says: /type=tar needs dest=FILE/ },
    { name: 'unknown key', args: (d) => ['-o', `type=local,dest=${d}/x,compression=zstd`], says: /type=local takes no "compression"/ },
    { name: 'a field without =', args: (d) => ['-o', `type=oci,dest=${d}/x,tar`], says: /"tar" is not KEY=VALUE/ },
    { name: 'bad tar=', args: (d) => ['-o', `type=oci,dest=${d}/x,tar=maybe`], says: /tar must be true or false/ },
    { name: 'local to stdout', args: () => ['-o', 'type=local,dest=-'], says: /type=local writes a directory, not stdout/ },
    { name: 'an OCI layout directory to stdout', args: () => ['-o', 'type=oci,dest=-,tar=false'], says: /tar=false\) cannot go to stdout/ },
    { name: 'two outputs to stdout', args: () => ['-o', '-', '-o', 'type=tar,dest=-'], says: /only one --output can write to stdout/ },
    { name: 'archive in a missing directory', args: (d) => ['-o', `type=docker,dest=${d}/no/such/x.tar`], says: /directory .*no\/such does not exist/ },
    { name: 'type=local onto a file', args: () => ['-o', `type=local,dest=${join(context, 'Dockerfile')}`], says: /Dockerfile is a file, not a directory/ },
    { name: '--iidfile in a missing directory', args: (d) => ['--iidfile', `${d}/no/such/iid`], says: /--iidfile: directory .*no\/such does not exist/ },
    { name: '--push without a tag', args: () => ['--push'], says: /--push needs a name to push to/ },
  ];
  for (const c of CASES) {
    it(`${c.name}: a one-line error, exit 125, nothing built or written`, async () => {
      const dir = await dirs.make();
      const indexBefore = await readFile(join(root, 'oci', 'index.json'));
      const r = await tsbuild(['--root', root, 'build', ...c.args(dir), context]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^tsbuild: error: [^\n]*\n$/);
      expect(r.stderr).toMatch(c.says);
      expect(r.stdout).toBe('');
      expect(await readdir(dir)).toEqual([]);
      expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(indexBefore);
      expect(existsSync(join(dir, 'x'))).toBe(false);
    });
  }
});
