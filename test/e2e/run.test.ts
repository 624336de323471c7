import { spawn } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools, run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree } from '../helpers/treeFacts.js';

const dirs = tempDirs();
let root: string;

beforeAll(async () => {
  await requireTools({ runc: 'runc' });
  root = await dirs.make();
  await importBusybox(root);
});
afterAll(() => dirs.cleanup());

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await dirs.make();
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

async function unpack(image: string): Promise<string> {
  const bundle = join(await dirs.make(), 'b');
  const out = await tsbuild(['--root', root, 'bundle', image, bundle]);
  expect(out.stderr).toBe('');
  return join(bundle, 'rootfs');
}

/** A build, even a failed or interrupted one, leaves no mounts, containers or temporary files behind. */
async function expectNoLeftovers(): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(root));
  // Only this file's builds: other test files may be running theirs at the same moment.
  const { stdout } = await run('runc', ['list', '--format', 'json']);
  const containers = ((JSON.parse(stdout) ?? []) as { id: string; bundle: string }[]).filter((c) => c.bundle.startsWith(root)).map((c) => c.id);
  const tmp = (await readdir(join(root, 'tmp'))).filter((f) => !f.startsWith('.'));
  expect({ mounts, containers, tmp }).toEqual({ mounts: [], containers: [], tmp: [] });
}

describe('RUN', () => {
  it('runs commands under runc; files created and deleted become layers with whiteouts', async () => {
    const ctx = await context([
      'FROM localhost/busybox',
      'ENV GREETING=hi',
      'RUN echo "$GREETING from $(id -u)" && mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b',
      'RUN rm /data/a && rm -r /data/sub && echo three > /data/c',
      'USER app',
      'WORKDIR /home/app/work',
      'RUN id -u > whoami && pwd > where',
    ].join('\n'));
    const out = await tsbuild(['--root', root, '-t', 'ran', ctx]);
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('[STEP 3/7] hi from 0');
    const rootfs = await unpack('ran');
    const tree = await describeTree(rootfs);
    expect(tree['data/a']).toBeUndefined();
    expect(tree['data/sub']).toBeUndefined();
    expect(await readFile(join(rootfs, 'data/c'), 'utf8')).toBe('three\n');
    expect(await readFile(join(rootfs, 'home/app/work/whoami'), 'utf8')).toBe('1000\n');
    expect(await readFile(join(rootfs, 'home/app/work/where'), 'utf8')).toBe('/home/app/work\n');
    expect(tree['home/app/work/whoami']).toMatchObject({ uid: 1000, gid: 1000 });
    // Host files bound in for the run never become part of the image; nor do runc's mount points.
    for (const absent of ['etc/resolv.conf', 'etc/hosts', 'proc', 'sys', 'dev']) expect(tree[absent], absent).toBeUndefined();
    const info = JSON.parse((await tsbuild(['--root', root, 'inspect', 'ran'])).stdout) as { config: { history: { created_by: string }[] } };
    expect(info.config.history.at(-1)?.created_by).toBe('RUN /bin/sh -c id -u > whoami && pwd > where # buildkit');
  });

  it('a failing RUN names the step, file:line, command and exit code, and leaves nothing behind', async () => {
    const before = await readFile(join(root, 'oci', 'index.json'));
    const ctx = await context('FROM localhost/busybox\nRUN echo partial > /x\nRUN echo about to fail && exit 3\n');
    const out = await tsbuild(['--root', root, '-t', 'fails', ctx]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('[STEP 3/3] about to fail');
    expect(out.stderr).toMatch(/Dockerfile:3:1: RUN: .*"\/bin\/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3/);
    await expectNoLeftovers();
    expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(before);
  });

  it('Ctrl-C (SIGINT) during a RUN stops the build and cleans up', async () => {
    const before = await readFile(join(root, 'oci', 'index.json'));
    const ctx = await context('FROM localhost/busybox\nRUN echo started && sleep 600\n');
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, '-t', 'interrupted', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('[STEP 2/2] started') && resolve()));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    await expectNoLeftovers();
    expect(await readFile(join(root, 'oci', 'index.json'))).toEqual(before);
  });

  it('--network none leaves only loopback; the default is the host network', async () => {
    const ctx = await context('FROM localhost/busybox\nRUN --network=none ip -o link | sed "s/:.*//;s/^[0-9]*: //" > /none\nRUN readlink /proc/self/ns/net > /host\n');
    expect((await tsbuild(['--root', root, '-q', '-t', 'net', ctx])).code).toBe(0);
    const rootfs = await unpack('net');
    expect((await readFile(join(rootfs, 'none'), 'utf8')).trim().split('\n')).toEqual(['1']);
    // The namespace's identity, not its interface count: other processes add and remove links meanwhile.
    expect((await readFile(join(rootfs, 'host'), 'utf8')).trim()).toBe(await readlink('/proc/self/ns/net'));
  });

  it('secrets are readable during the RUN and never land in a layer or the history', async () => {
    const secretFile = join(await dirs.make(), 'token');
    await writeFile(secretFile, 's3cr3t-value');
    const ctx = await context('FROM localhost/busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /length\n');
    const out = await tsbuild(['--root', root, '-q', '-t', 'secret', '--secret', `id=token,src=${secretFile}`, ctx]);
    expect(out.stderr).toBe('');
    const rootfs = await unpack('secret');
    expect((await readFile(join(rootfs, 'length'), 'utf8')).trim()).toBe('12');
    expect((await describeTree(rootfs))['run']).toBeUndefined();
    const { stdout } = await run('sh', ['-c', `cat ${root}/oci/blobs/sha256/* | zcat -f 2>/dev/null | grep -c s3cr3t-value || true`]);
    expect(stdout.trim()).toBe('0');
    expect((await tsbuild(['--root', root, 'inspect', 'secret'])).stdout).not.toContain('s3cr3t');
  });

  it('a cache mount persists between builds and stays out of the image; tmpfs mounts too', async () => {
    const dockerfile = 'FROM localhost/busybox\nARG N\nRUN --mount=type=cache,target=/cache --mount=type=tmpfs,target=/scratch echo $N >> /cache/runs && cat /cache/runs > /seen && touch /scratch/x\n';
    const ctx = await context(dockerfile);
    expect((await tsbuild(['--root', root, '-q', '-t', 'cached', '--build-arg', 'N=1', ctx])).code).toBe(0);
    expect((await tsbuild(['--root', root, '-q', '-t', 'cached', '--build-arg', 'N=2', ctx])).code).toBe(0);
    const rootfs = await unpack('cached');
    expect(await readFile(join(rootfs, 'seen'), 'utf8')).toBe('1\n2\n');
    const tree = await describeTree(rootfs);
    expect(tree['cache']).toBeUndefined();
    expect(tree['scratch']).toBeUndefined();
  });

  it('heredocs: RUN <<EOF runs a script', async () => {
    const ctx = await context('FROM localhost/busybox\nRUN <<EOF\necho first > /h1\necho second >> /h1\nEOF\nRUN <<EOF\n#!/bin/sh\necho "script $0" > /h2\nEOF\n');
    const out = await tsbuild(['--root', root, '-q', '-t', 'heredoc', ctx]);
    expect(out.stderr).toBe('');
    const rootfs = await unpack('heredoc');
    expect(await readFile(join(rootfs, 'h1'), 'utf8')).toBe('first\nsecond\n');
    expect(await readFile(join(rootfs, 'h2'), 'utf8')).toMatch(/^script \//);
  });

  it('COPY --chown resolves users a RUN created', async () => {
    const ctx = await context('FROM localhost/busybox\nRUN echo "svc:x:4242:4343::/:/bin/sh" >> /etc/passwd && echo "svcg:x:4343:" >> /etc/group\nCOPY --chown=svc:svcg f /owned\n', { f: 'x' });
    expect((await tsbuild(['--root', root, '-q', '-t', 'chown-run', ctx])).stderr).toBe('');
    const tree = await describeTree(await unpack('chown-run'));
    expect(tree['owned']).toMatchObject({ uid: 4242, gid: 4343 });
  });

  it('cache: an unchanged rebuild executes nothing and gives the same digest; a changed file re-runs from its COPY on', async () => {
    const ctx = await context('FROM localhost/busybox\nCOPY a /a\nRUN cat /a /a > /a2\nCOPY b /b\nRUN cat /b > /b2 && date +%N > /nonce\n', { a: 'A', b: 'B' });
    const first = await tsbuild(['--root', root, '-t', 'cache-test', ctx]);
    expect(first.code).toBe(0);
    const again = await tsbuild(['--root', root, '-t', 'cache-test', ctx]);
    expect(again.stdout.match(/--> Using cache/g)).toHaveLength(4);
    expect(again.stdout.split('\n').at(-2)).toBe(first.stdout.split('\n').at(-2));
    await writeFile(join(ctx, 'b'), 'B changed');
    const changed = await tsbuild(['--root', root, '-t', 'cache-test', ctx]);
    const lines = changed.stdout.split('\n');
    const cachedAfter = (step: string) => lines[lines.findIndex((l) => l.startsWith(step)) + 1] === '--> Using cache';
    expect(['STEP 2/5', 'STEP 3/5', 'STEP 4/5', 'STEP 5/5'].map(cachedAfter)).toEqual([true, true, false, false]);
    const rootfs = await unpack('cache-test');
    expect(await readFile(join(rootfs, 'b2'), 'utf8')).toBe('B changed');
    expect(await readFile(join(rootfs, 'a2'), 'utf8')).toBe('AA');
  });

  it('reproducible: two fresh stores with the same --source-date-epoch give the same digest, RUN steps included', async () => {
    const ctx = await context('FROM localhost/busybox\nCOPY a /a\nRUN mkdir -p /out/d && cat /a > /out/d/f && ln -s d/f /out/link\nUSER app\nRUN touch /tmp/mine\n', { a: 'A' });
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const fresh = await dirs.make();
      await importBusybox(fresh);
      // Different wall-clock times for the two builds: the epoch alone must decide every timestamp.
      await new Promise((r) => setTimeout(r, 1100));
      const out = await tsbuild(['--root', fresh, '-q', '-t', 'repro', '--source-date-epoch', '1700000000', ctx]);
      expect(out.stderr).toBe('');
      digests.push(out.stdout.trim());
    }
    expect(digests[0]).toMatch(/^sha256:/);
    expect(digests[1]).toBe(digests[0]);
  });

  it('multi-stage: COPY --from a stage keeps owners and resolves links inside the stage; --from an image too', async () => {
    const ctx = await context([
      'FROM localhost/busybox AS build',
      'RUN mkdir -p /out/bin && echo tool > /out/bin/tool && chown 1000:1000 /out/bin/tool && ln -s /out/bin/tool /linked',
      'FROM scratch',
      'COPY --from=build /out/bin /bin/',
      'COPY --from=build /linked /via-link',
      'COPY --from=0 --chown=7:8 /out/bin/tool /chowned',
      'COPY --from=localhost/busybox /etc/passwd /etc/passwd',
    ].join('\n'));
    const out = await tsbuild(['--root', root, '-q', '-t', 'multi', ctx]);
    expect(out.stderr).toBe('');
    const tree = await describeTree(await unpack('multi'));
    expect(tree['bin/tool']).toMatchObject({ type: 'file', uid: 1000, gid: 1000 });
    expect(tree['via-link']).toMatchObject({ type: 'file', size: 5 });
    expect(tree['chowned']).toMatchObject({ uid: 7, gid: 8 });
    expect(tree['etc/passwd']?.type).toBe('file');
    expect(Object.keys(tree).filter((p) => p.startsWith('out'))).toEqual([]);
    await expectNoLeftovers();
  });

  it('--platform: other platforms build without RUN, and a RUN for them is refused clearly', async () => {
    const copyOnly = await context('FROM scratch\nARG TARGETARCH\nCOPY f /f\nLABEL arch=$TARGETARCH\n', { f: 'f' });
    const out = await tsbuild(['--root', root, '-q', '-t', 'arm', '--platform', 'linux/arm64', copyOnly]);
    expect(out.stderr).toBe('');
    const info = JSON.parse((await tsbuild(['--root', root, 'inspect', 'arm'])).stdout) as { config: { architecture: string; config: { Labels: Record<string, string> } } };
    expect(info.config.architecture).toBe('arm64');
    expect(info.config.config.Labels).toEqual({ arch: 'arm64' });
    const withRun = await context('FROM localhost/busybox\nRUN true\n');
    const refused = await tsbuild(['--root', root, '-t', 'arm-run', '--platform', 'linux/arm64', withRun]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Dockerfile:2:1: RUN: cannot run commands for linux\/arm64 on this linux\/amd64 machine/);
  });

  it('RUN --mount=type=bind reads the context or another stage, read-only, and its content is part of the cache key', async () => {
    const ctx = await context([
      'FROM localhost/busybox AS tools',
      'RUN mkdir -p /opt/tool && echo from-stage > /opt/tool/data',
      'FROM localhost/busybox',
      'RUN --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool --mount=type=bind,source=input.txt,target=/mnt/input cat /mnt/tool/data /mnt/input > /combined && (touch /mnt/input 2>/dev/null && echo writable || echo read-only) >> /combined',
    ].join('\n'), { 'input.txt': 'first' });
    expect((await tsbuild(['--root', root, '-q', '-t', 'bind', ctx])).stderr).toBe('');
    let rootfs = await unpack('bind');
    expect(await readFile(join(rootfs, 'combined'), 'utf8')).toBe('from-stage\nfirstread-only\n');
    expect((await describeTree(rootfs))['mnt']).toBeUndefined();
    await writeFile(join(ctx, 'input.txt'), 'second');
    expect((await tsbuild(['--root', root, '-q', '-t', 'bind', ctx])).stderr).toBe('');
    rootfs = await unpack('bind');
    expect(await readFile(join(rootfs, 'combined'), 'utf8')).toBe('from-stage\nsecondread-only\n');
    await expectNoLeftovers();
  });
});
