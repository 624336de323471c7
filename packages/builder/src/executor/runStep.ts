import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FAILURE_EXIT_CODE, lstatIfExists, resolveInRoot, ToolError, type Compression, type Descriptor, type Digest, type Image, type LayerChange, type LocalStore, type RuntimeMount } from '@tsbuild/oci-layout';
import type { RunOp } from '../dockerfile/stageState.js';
import type { RunMount } from '../dockerfile/runMount.js';
import { storeChanges } from '../layers/layerStore.js';
import { mountOverlay } from '../runtime/overlayMount.js';
import { runContainer } from '../runtime/runContainer.js';
import { holdRun } from '../runtime/runRecord.js';
import { chainIds, type Snapshotter } from '../runtime/snapshotter.js';
import { upperToChanges } from '../layers/upperToChanges.js';
import { writeHostsFile, type RunSettings } from '../runtime/runSettings.js';
import type { StageRoot } from './stageRoot.js';

/** Where a RUN step's environment comes from. */
export interface RunEnvironment {
  store: LocalStore;
  snapshotter: Snapshotter;
  compression: Compression;
  clampTo?: number;
  /** Build context directory, for `--mount=type=bind` without `from`. */
  contextDir: string;
  /** `--secret id=X,src=FILE`, by id. */
  secrets: Record<string, string>;
  /** The filesystem of a stage or image, for `--mount=type=bind,from=...`. */
  openRoot: (from: string) => Promise<StageRoot>;
  output: (chunk: Buffer) => void;
  signal: AbortSignal;
  /** --add-host, --ulimit, --shm-size of the build. */
  settings?: RunSettings;
}

/** Host files a build step sees but that never belong in its layer. */
const HOST_FILES = ['/etc/resolv.conf', '/etc/hosts'];
/** Mount points runc creates when an image lacks them. */
const RUNTIME_DIRS = ['/proc', '/sys', '/dev'];

async function exists(path: string): Promise<boolean> {
  return (await lstatIfExists(path)) !== undefined;
}

/**
 * The mounts a RUN asks for. Caches persist under the store; secrets are
 * bind-mounted read-only files that exist only while the command runs.
 */
async function runMounts(mounts: RunMount[], env: RunEnvironment, roots: StageRoot[]): Promise<RuntimeMount[]> {
  const out: RuntimeMount[] = [];
  for (const m of mounts) {
    switch (m.type) {
      case 'cache': {
        const id = (m.id ?? m.target!).replace(/[^A-Za-z0-9._-]/g, '_');
        const source = join(env.store.cacheDir, 'mounts', id);
        await mkdir(source, { recursive: true, mode: m.mode ?? 0o755 });
        out.push({ destination: m.target!, type: 'bind', source, options: ['rbind', m.readonly ? 'ro' : 'rw'] });
        break;
      }
      case 'bind': {
        let base = env.contextDir;
        if (m.from) {
          const root = await env.openRoot(m.from);
          roots.push(root);
          base = root.dir;
        }
        const source = m.from
          ? await resolveInRoot(base, m.source ?? '/', { followFinal: true })
          : join(base, posix.normalize(`/${m.source ?? '.'}`));
        // Writes to a bind mount are discarded in BuildKit; a read-only mount is the honest equivalent.
        out.push({ destination: m.target!, type: 'bind', source, options: ['rbind', 'ro'] });
        break;
      }
      case 'tmpfs':
        out.push({ destination: m.target!, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.size ? [`size=${m.size}`] : [])] });
        break;
      case 'secret': {
        const id = m.id ?? posix.basename(m.target ?? '');
        const source = env.secrets[id];
        if (!source) {
          if (m.required) throw new ToolError('run-failed', `secret "${id}" is required but was not given (--secret id=${id},src=FILE)`, FAILURE_EXIT_CODE);
          break;
        }
        out.push({ destination: m.target ?? `/run/secrets/${id}`, type: 'bind', source, options: ['bind', 'ro'] });
        break;
      }
      case 'ssh':
        throw new ToolError('run-failed', '--mount=type=ssh is not supported', FAILURE_EXIT_CODE);
    }
  }
  return out;
}

/**
 * Executes one RUN: an overlay of the stage's layers with a fresh upper
 * directory, the command under runc, then the upper directory becomes the
 * new layer (and, as it is, the snapshot for the next step). Mount points
 * that exist only for the run are left out. Everything temporary is removed
 * whether the command succeeds, fails or is interrupted.
 */
export async function runStep(
  env: RunEnvironment,
  op: RunOp,
  /** The stage's image so far, whose layers the command sees. */
  below: Image,
  stepLabel: string,
  /** Sees the new layer's changes while their files can still be read. */
  record: (changes: LayerChange[]) => Promise<void>,
): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const lowers = await env.snapshotter.prepare(below.layers);
  const work = await mkdtemp(join(env.store.tmpDir, 'run-'));
  const containerId = `tsbuild-${process.pid}-${randomBytes(4).toString('hex')}`;
  const held = await holdRun(env.store, { workDir: work, mounts: [join(work, 'merged')], containerId }).catch(async (e) => {
    await rm(work, { recursive: true, force: true });
    throw e;
  });
  const roots: StageRoot[] = [];
  const mount = await mountOverlay(lowers, work).catch(async (e) => {
    await rm(work, { recursive: true, force: true });
    await held.release();
    throw e;
  });
  try {
    const scratch = join(work, 'scratch');
    await mkdir(scratch);
    const bundleDir = join(work, 'bundle');
    await mkdir(bundleDir);
    const extraMounts = await runMounts(op.mounts, env, roots);
    for (const [i, file] of op.inlineFiles.entries()) {
      const source = join(scratch, `inline-${i}`);
      await writeFile(source, file.content, { mode: file.mode });
      extraMounts.push({ destination: file.path, type: 'bind', source, options: ['bind', 'ro'] });
    }
    const hostFiles: RuntimeMount[] = HOST_FILES.map((p) => ({ destination: p, type: 'bind', source: p, options: ['rbind', 'ro'] }));
    if (env.settings?.extraHosts.length) {
      const hosts = join(scratch, 'hosts');
      await writeHostsFile(hosts, env.settings.extraHosts);
      hostFiles[HOST_FILES.indexOf('/etc/hosts')]!.source = hosts;
    }
    const mountPoints = [...RUNTIME_DIRS, ...HOST_FILES, ...extraMounts.map((m) => m.destination)];
    const existedBefore = new Map<string, boolean>();
    for (const p of mountPoints) existedBefore.set(p, await exists(await resolveInRoot(mount.merged, p, { followFinal: false })));
    const cwd = await resolveInRoot(mount.merged, op.workdir, { followFinal: true });
    await mkdir(cwd, { recursive: true });

    const code = await runContainer({
      id: containerId,
      bundleDir,
      rootfs: mount.merged,
      args: op.args,
      env: op.env,
      cwd: op.workdir,
      ...(op.user ? { user: op.user } : {}),
      network: op.network === 'none' ? 'none' : 'host',
      mounts: [...(op.network === 'none' ? [] : hostFiles), ...extraMounts],
      output: env.output,
      signal: env.signal,
      ...(env.settings ? { settings: env.settings } : {}),
    });
    if (env.signal.aborted) throw new ToolError('run-failed', 'interrupted', FAILURE_EXIT_CODE);
    if (code !== 0) {
      throw new ToolError('run-failed', `${stepLabel}: process "${op.args.join(' ')}" did not complete successfully: exit code: ${code}`, FAILURE_EXIT_CODE);
    }
    await mount.unmount();
    await removeMountStubs(mount.upper, mountPoints.filter((p) => !existedBefore.get(p)));

    const changes = await upperToChanges(mount.upper, env.clampTo !== undefined ? { clampTo: env.clampTo } : {});
    const layer = await storeChanges(env.store, changes, env.compression);
    await record(changes);
    const chain = chainIds([...below.layers.map((l) => l.diffId), layer.diffId]).at(-1)!;
    await env.snapshotter.commit(mount.upper, chain);
    return layer;
  } finally {
    // An overlay that will not unmount even lazily is not deleted through: its error surfaces and `tsbuild prune` finds it.
    try {
      await mount.unmount();
    } finally {
      await Promise.all(roots.map((root) => root.release()));
    }
    try {
      await rm(work, { recursive: true, force: true });
    } finally {
      await held.release();
    }
  }
}

/**
 * Removes what runc created only to mount something over it: a file or an
 * empty directory at a mount point the image did not have, and parents that
 * are left empty because of it.
 */
async function removeMountStubs(upper: string, created: string[]): Promise<void> {
  for (const destination of created.sort((a, b) => b.length - a.length)) {
    const mountPoint = posix.normalize(destination).replace(/^\/+/, '');
    let rel = mountPoint;
    while (rel && rel !== '.') {
      const abs = join(upper, rel);
      const st = await lstatIfExists(abs);
      if (!st) break;
      if (st.isDirectory()) {
        if ((await readdir(abs)).length > 0) break;
        await rm(abs, { recursive: true });
      } else if (rel === mountPoint) {
        await rm(abs);
      } else {
        break;
      }
      rel = posix.dirname(rel);
    }
  }
}
