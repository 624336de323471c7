import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toRuntimeSpec, type RuntimeMount } from '@tsbuild/oci-layout';
import { runtimeDelete, runtimeKill } from './ociRuntime.js';
import { applyRunSettings, type RunSettings } from './runSettings.js';

export interface ContainerRequest {
  /** Unique runc container ID. */
  id: string;
  /** Directory for config.json (the bundle); the rootfs may live elsewhere. */
  bundleDir: string;
  /** Absolute path of the mounted root filesystem. */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  /** USER as written; resolved through the rootfs' own passwd/group. */
  user?: string;
  network: 'host' | 'none';
  mounts: RuntimeMount[];
  /** --ulimit, --shm-size of the build. */
  settings?: RunSettings;
  /** Receives the process's output as it comes. */
  output: (chunk: Buffer) => void;
  signal: AbortSignal;
}

/**
 * Runs one command under runc, the way a build step runs: its own pid, ipc,
 * uts and mount namespaces, the host's network unless `none`, Docker's
 * default capabilities, no terminal. Resolves with the exit code; the
 * container is deleted whatever happens.
 */
export async function runContainer(req: ContainerRequest): Promise<number> {
  const spec = await toRuntimeSpec(
    {
      architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] },
      config: { Cmd: req.args, Env: req.env, WorkingDir: req.cwd, ...(req.user ? { User: req.user } : {}) },
    },
    { rootfs: req.rootfs, rootfsPath: req.rootfs, args: req.args },
  );
  spec.process.noNewPrivileges = false;
  // Inherit the builder's own limits, as a shell would; raising them may not be allowed here.
  spec.process.rlimits = [];
  spec.hostname = 'buildkitsandbox';
  spec.annotations = {};
  spec.linux.namespaces = spec.linux.namespaces.filter((ns) => ns.type !== 'cgroup' && (req.network === 'none' || ns.type !== 'network'));
  if (req.network === 'host') {
    // sysfs belongs to the network namespace; with the host's network only a read-only bind is allowed.
    spec.mounts = spec.mounts.map((m) => (m.destination === '/sys' ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] } : m));
  }
  spec.mounts.push(...req.mounts);
  if (req.settings) applyRunSettings(spec, req.settings);
  await writeFile(join(req.bundleDir, 'config.json'), JSON.stringify(spec, null, 2));

  if (req.signal.aborted) return 130;
  const child = spawn('runc', ['run', '--bundle', req.bundleDir, req.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', req.output);
  child.stderr.on('data', req.output);
  let failKill: (e: Error) => void = () => {};
  const abort = () => {
    void runtimeKill('runc', req.id, 'KILL').catch((e: Error) => {
      // The step ended (or never got going) just as it was cancelled: nothing left to kill.
      if (/does not exist|not running/.test(e.message)) return;
      failKill(new Error(`cannot stop the RUN container ${req.id}: ${e.message}`));
    });
  };
  req.signal.addEventListener('abort', abort);
  try {
    return await new Promise<number>((resolve, reject) => {
      failKill = reject;
      child.on('error', (e) => reject(new Error(`cannot start runc: ${e.message}`)));
      child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0)));
    });
  } finally {
    req.signal.removeEventListener('abort', abort);
    // Also what kills it when the kill above failed.
    await runtimeDelete('runc', req.id);
  }
}
