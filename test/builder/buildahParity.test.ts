import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundle, LocalStore, OciLayout, type ImageConfig } from '@tsbuild/oci-layout';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree, type NodeFacts } from '../helpers/treeFacts.js';

/**
 * The same Dockerfiles built by tsbuild and by buildah (`buildah bud --layers
 * --storage-driver vfs`) must give the same flattened filesystem and config.
 * Differences that remain are listed in `KNOWN_DIFFERENCES` with the reason.
 */
const dirs = tempDirs();
let root: string;
let buildahRoot: string;

const CASES: Record<string, string> = {
  'multi-stage': [
    'ARG BASE',
    'FROM ${BASE} AS build',
    'RUN mkdir -p /out && echo built > /out/artifact && chmod 640 /out/artifact && chown 1000:1000 /out/artifact',
    'FROM ${BASE}',
    'COPY --from=build /out/artifact /opt/artifact',
    'CMD ["cat", "/opt/artifact"]',
  ].join('\n'),
  'run-create-delete': [
    'ARG BASE',
    'FROM ${BASE}',
    'RUN mkdir -p /data/keep /data/drop && echo k > /data/keep/f && echo d > /data/drop/f && ln -s keep/f /data/link',
    'RUN rm -rf /data/drop && echo changed > /data/keep/f && chmod 4755 /data/keep/f',
    'RUN mkdir -p /opaque/a && touch /opaque/a/old',
    'RUN rm -rf /opaque && mkdir -p /opaque/b && touch /opaque/b/new',
  ].join('\n'),
  'user-workdir': [
    'ARG BASE',
    'FROM ${BASE}',
    'WORKDIR /srv/app',
    'RUN echo here > where',
    'USER app',
    'RUN echo mine > /tmp/mine && id -u > /tmp/uid',
    'WORKDIR /home/app/sub',
    'USER root',
    'RUN echo back > rootfile',
    'USER app:app',
  ].join('\n'),
  // Heredocs are not in the comparison: Debian 12's buildah (1.28) predates them (1.33); test/e2e/run.test.ts covers them.
  'cache-mount-config': [
    'ARG BASE',
    'FROM ${BASE}',
    'RUN --mount=type=cache,target=/var/cache/thing echo cached > /var/cache/thing/x && cp /var/cache/thing/x /from-cache',
    'ENV A=1 B=two',
    'EXPOSE 8080/tcp 53/udp',
    'VOLUME /vol',
    'LABEL team=web',
    'STOPSIGNAL SIGTERM',
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD ["echo hi"]',
  ].join('\n'),
};

/**
 * Where we follow BuildKit (docker build) and buildah 1.28 does otherwise.
 * `dropEverywhere`: mount points buildah's RUN creates and keeps; BuildKit and
 * tsbuild remove the stubs of mounts the image did not have.
 */
const KNOWN_DIFFERENCES = {
  dropEverywhere: ['dev', 'proc', 'sys', 'run', 'etc/hosts', 'etc/resolv.conf', 'etc/hostname'],
  perCase: {
    // Same reason: the parents of a cache mount's target are mount stubs too.
    'cache-mount-config': { drop: ['var'], owners: {} },
    // BuildKit creates a missing WORKDIR owned by the current USER; buildah creates it as root.
    'user-workdir': { drop: [], owners: { 'home/app/sub': { uid: 1000, gid: 1000 } } },
  } as Record<string, { drop: string[]; owners: Record<string, { uid: number; gid: number }> }>,
};

function comparableTree(tree: Record<string, NodeFacts>, drop: string[]): Record<string, Omit<NodeFacts, 'mtimeMs'>> {
  const out: Record<string, Omit<NodeFacts, 'mtimeMs'>> = {};
  for (const [path, { mtimeMs: _m, hardLinkOf: _h, ...facts }] of Object.entries(tree)) {
    if (path === '.' || drop.some((d) => path === d || path.startsWith(`${d}/`))) continue;
    out[path] = facts;
  }
  return out;
}

function comparableConfig(config: ImageConfig) {
  const c = config.config ?? {};
  // buildah stamps its own version as a label.
  const { 'io.buildah.version': _version, ...labels } = c.Labels ?? {};
  return {
    Env: c.Env ?? [], Entrypoint: c.Entrypoint ?? null, Cmd: c.Cmd ?? null, WorkingDir: c.WorkingDir ?? '', User: c.User ?? '',
    ExposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(), Volumes: Object.keys(c.Volumes ?? {}).sort(), Labels: labels, StopSignal: c.StopSignal ?? '',
  };
}

async function unpackTree(image: Parameters<typeof createBundle>[0]) {
  const bundle = join(await dirs.make(), 'b');
  await createBundle(image, bundle);
  return describeTree(join(bundle, 'rootfs'));
}

beforeAll(async () => {
  await requireTools({ buildah: 'buildah', runc: 'runc' });
  root = await dirs.make();
  buildahRoot = await dirs.make();
  await importBusybox(root);
  // The same base for buildah, under the same name: pulled from our store (buildah wants a lowercase path).
  const link = `/tmp/tsbuild-parity-${process.pid}`;
  await run('ln', ['-sfn', join(root, 'oci'), link]);
  try {
    const { stdout } = await run('buildah', [...storage(), 'pull', '-q', `oci:${link}:localhost/busybox:latest`]);
    await run('buildah', [...storage(), 'tag', stdout.trim(), 'localhost/busybox:latest']);
  } finally {
    await run('rm', ['-f', link]);
  }
}, 300_000);

function storage(): string[] {
  return ['--storage-driver', 'vfs', '--root', join(buildahRoot, 'root'), '--runroot', join(buildahRoot, 'runroot')];
}

afterAll(async () => {
  await run('buildah', [...storage(), 'rm', '--all']).catch(() => undefined);
  await run('umount', ['-R', join(buildahRoot, 'root')]).catch(() => undefined);
  await dirs.cleanup();
});

describe('tsbuild and buildah agree', () => {
  for (const [name, dockerfile] of Object.entries(CASES)) {
    it(name, async () => {
      const context = await dirs.make();
      await writeFile(join(context, 'Dockerfile'), dockerfile);
      const ours = await tsbuild(['--root', root, '-q', '-t', name, '--build-arg', 'BASE=localhost/busybox', context]);
      expect(ours.stderr).toBe('');

      await run('buildah', [...storage(), 'bud', '--layers', '--isolation', 'chroot', '--build-arg', 'BASE=localhost/busybox', '-t', name, context], { maxBuffer: 32 * 1024 * 1024 });
      const exported = await dirs.make();
      await mkdir(join(exported, 'layout'));
      await run('buildah', [...storage(), 'push', name, `oci:${join(exported, 'layout')}:${name}`]);
      const layout = await OciLayout.open(join(exported, 'layout'));
      const theirs = await layout.readImage((await layout.findRef(name))!);
      const store = await LocalStore.open(root);
      const mine = await store.readImage(name);

      expect(comparableConfig(mine.config)).toEqual(comparableConfig(theirs.config));
      const known = KNOWN_DIFFERENCES.perCase[name] ?? { drop: [], owners: {} };
      const drop = [...KNOWN_DIFFERENCES.dropEverywhere, ...known.drop];
      const theirTree = comparableTree(await unpackTree(theirs), drop);
      for (const [path, owner] of Object.entries(known.owners)) theirTree[path] = { ...theirTree[path]!, ...owner };
      const myTree = comparableTree(await unpackTree(mine), drop);
      expect(Object.keys(myTree).length).toBeGreaterThan(30);
      expect(myTree).toEqual(theirTree);
    });
  }
});
