import { rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { LocalStore } from '@tsbuild/oci-layout';
import { cleanupContainer } from '../../runtime/cleanupContainer.js';
import { ContainerError } from '../../runtime/containerError.js';
import { initialState } from '../../runtime/containerRecord.js';
import { observeIfPresent, waitForExit } from '../../runtime/containerStatus.js';
import type { ContainerStore, StoredContainer } from '../../runtime/containerStore.js';
import { createContainer, discardContainer } from '../../runtime/createContainer.js';
import { readLog } from '../../runtime/k8sFileLog.js';
import {
  normalizeCapability,
  parseCpus,
  parseEnv,
  parseMemorySize,
  parseSize,
  parseNetwork,
  parsePublishFor,
  parsePidsLimit,
  parseRestartPolicy,
  parseSecurityOpts,
  parseSignal,
  parseTmpfs,
  parseUlimit,
  readEnvFile,
  type RunProfile,
} from '../../runtime/runOptions.js';
import { startContainer } from '../../runtime/startContainer.js';
import { parseMount, parseVolume } from '../../runtime/volumeMounts.js';
import { removeAnonymousVolumes, VolumeStore } from '../../runtime/volumeStore.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { CLOSED_OUTPUT_STATUS, LogOutput } from '../logOutput.js';
import { imageForRun, parsePullPolicy } from '../runImage.js';
import { registryTransportOptions } from '../registryOptions.js';
import { proxySignals } from '../signalProxy.js';
import type { StdioAttachment } from '../stdioAttachment.js';

export interface RunFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  readOnly?: boolean;
  network: string;
  publish: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged?: boolean;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  restart: string;
  stopSignal?: string;
  stopTimeout: string;
  runtime: string;
  label: string[];
  init?: boolean;
  detachKeys: string;
  ulimit: string[];
  pull: string;
  tlsVerify: string;
  registriesConf?: string;
  cidfile?: string;
  logOpt: string[];
}

async function runProfile(flags: RunFlags): Promise<RunProfile> {
  const envFromFiles: string[] = [];
  for (const file of flags.envFile) envFromFiles.push(...(await readEnvFile(file)));
  const mounts = flags.mount.map(parseMount);
  const security = parseSecurityOpts(flags.securityOpt);
  const network = parseNetwork(flags.network);
  return {
    env: [...envFromFiles, ...parseEnv(flags.env)],
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    // docker: an empty --entrypoint clears the image's.
    ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint === '' ? [] : [flags.entrypoint] } : {}),
    ...(flags.hostname !== undefined ? { hostname: flags.hostname } : {}),
    readOnly: flags.readOnly ?? false,
    network,
    publish: parsePublishFor(network, flags.publish),
    ...(flags.memory !== undefined ? { memory: parseMemorySize(flags.memory) } : {}),
    ...(flags.cpus !== undefined ? { cpus: parseCpus(flags.cpus) } : {}),
    ...(flags.pidsLimit !== undefined ? { pidsLimit: parsePidsLimit(flags.pidsLimit) } : {}),
    capAdd: flags.capAdd.map(normalizeCapability),
    capDrop: flags.capDrop.map(normalizeCapability),
    seccomp: security.seccomp,
    noNewPrivileges: security.noNewPrivileges,
    privileged: flags.privileged ?? false,
    volumes: [...flags.volume.map(parseVolume), ...mounts.flatMap((m) => (m.kind === 'volume' ? [m.mount] : []))],
    tmpfs: [...flags.tmpfs.map(parseTmpfs), ...mounts.flatMap((m) => (m.kind === 'tmpfs' ? [m.mount] : []))],
    init: flags.init ?? false,
    tty: flags.tty ?? false,
    ulimits: flags.ulimit.map(parseUlimit),
  };
}

function parseLabels(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    out[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** `--log-opt max-size=10m`: conmon rotates the k8s-file log at that size. */
function parseLogOpts(opts: string[]): number | undefined {
  let max: number | undefined;
  for (const opt of opts) {
    const m = /^max-size=(.+)$/.exec(opt);
    if (!m) throw new ContainerError('invalid-option', `unsupported --log-opt ${JSON.stringify(opt)}: expected max-size=SIZE`);
    max = parseSize(m[1]!);
  }
  return max;
}

function parseStopTimeout(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ContainerError('invalid-option', `invalid --stop-timeout ${JSON.stringify(text)}: expected whole seconds`);
  return n;
}

/**
 * Nobody reads our output any more (`| head`): `run` ends as docker's and podman's CLIs do, and
 * the container runs on. Its exit command cleans up after it once this process is no longer
 * attached; if it exited already (its exit command saw us attached and left that to us), we do.
 */
async function leaveClosedOutput(store: LocalStore, containers: ContainerStore, c: StoredContainer): Promise<never> {
  await rm(c.paths.attachedFile, { force: true });
  if ((await observeIfPresent(containers, c))?.status !== 'running') await cleanupContainer(store, containers, c, { fromExitCommand: false });
  throw new ExitStatus(CLOSED_OUTPUT_STATUS);
}

/** `tsbuild run`: create the container, start it, and (without -d) stay with it until it exits. */
export async function runAction(imageRef: string, command: string[], flags: RunFlags, cmd: Command): Promise<void> {
  if (flags.detach && flags.rm && flags.restart !== 'no') throw new ContainerError('invalid-option', '--rm and --restart cannot be used together');
  const profile = await runProfile(flags);
  const { store, containers } = await openContainers(cmd);
  const logSizeMax = parseLogOpts(flags.logOpt);
  const image = await imageForRun(store, imageRef, parsePullPolicy(flags.pull), await registryTransportOptions(flags));
  const c = await createContainer(store, containers, {
    image,
    imageRef,
    command,
    profile,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    runtime: flags.runtime,
    autoRemove: flags.rm ?? false,
    openStdin: flags.interactive ?? false,
    stdinOnce: !flags.detach,
    restart: parseRestartPolicy(flags.restart),
    ...(flags.stopSignal !== undefined ? { stopSignal: parseSignal(flags.stopSignal).name } : {}),
    stopTimeout: parseStopTimeout(flags.stopTimeout),
    labels: parseLabels(flags.label),
    ...(logSizeMax !== undefined ? { logSizeMax } : {}),
  }, { connect: true });
  let attachment: StdioAttachment | undefined;
  // With -i or -t, output and stdin go through conmon's attach socket, joined before the process starts so nothing is missed.
  // The attach client and the terminal handling load only then: `run --rm IMAGE` without -i or -t needs neither (#13).
  const attach = async () => {
    const { attachStdio } = await import('../stdioAttachment.js');
    attachment = await attachStdio(c, { stdin: flags.interactive ?? false, detachKeys: flags.detachKeys });
  };
  try {
    if (flags.cidfile) await writeFile(flags.cidfile, c.record.id, { flag: 'wx' });
    if (!flags.detach) await writeFile(c.paths.attachedFile, String(process.pid));
    // Made a moment ago: its state is the initial one, no need to read it back.
    await startContainer(store, containers, c, initialState(), {
      fresh: true,
      ...(c.network ? { network: c.network } : {}),
      ...((flags.interactive || flags.tty) && !flags.detach ? { beforeStart: attach } : {}),
    });
  } catch (e) {
    attachment?.end();
    await discardContainer(containers, c);
    await removeAnonymousVolumes(new VolumeStore(store), containers, c.record);
    throw e;
  }
  if (flags.detach) {
    process.stdout.write(`${c.record.id}\n`);
    return;
  }
  // With a terminal, ctrl-c is a byte to the container's tty driver, not a signal to us.
  const stopProxy = flags.tty ? () => {} : proxySignals(c);
  try {
    if (attachment) {
      const how = await attachment.done;
      attachment.end();
      if (how === 'detached') {
        await rm(c.paths.attachedFile, { force: true });
        process.stderr.write(`\nDetached from ${c.record.name}; it runs on (tsbuild attach ${c.record.name})\n`);
        return;
      }
      await waitForExit(containers, c);
    } else {
      const out = new LogOutput(false);
      try {
        await readLog(c.paths.log, 0, out.write, async () => !out.closed.aborted && (await observeIfPresent(containers, c))?.status === 'running', out.closed);
      } finally {
        out.dispose();
      }
      if (out.closed.aborted) await leaveClosedOutput(store, containers, c);
    }
  } finally {
    stopProxy();
    attachment?.end();
  }
  const final = (await observeIfPresent(containers, c)) ?? { exitCode: 125, error: 'the container was removed while running' };
  await cleanupContainer(store, containers, c, { fromExitCommand: false });
  if (final.exitCode < 0) throw new ContainerError('runtime', final.error || 'the container\'s exit status is unknown');
  if (final.exitCode !== 0) throw new ExitStatus(final.exitCode);
}
