import { readFile } from 'node:fs/promises';
import type { ContainerState } from '../runtime/containerRecord.js';
import type { ContainerNetwork } from '../runtime/network/recordedNetwork.js';
import { toNetworkSettings } from '../runtime/network/networkSettings.js';
import type { PortMapping } from '../runtime/network/portMapping.js';
import type { StoredContainer } from '../runtime/containerStore.js';

function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}`;
  return `${Math.round(h / 24)} days`;
}

/** docker ps's STATUS column. */
export function statusText(state: ContainerState): string {
  switch (state.status) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${ago(state.startedAt)}${state.error ? ' (conmon gone)' : ''}`;
    case 'exited':
      return `Exited (${state.exitCode}) ${ago(state.finishedAt)} ago`;
  }
}

export function commandText(c: StoredContainer): string {
  return [...(c.record.config.Entrypoint ?? []), ...(c.record.config.Cmd ?? [])].join(' ');
}

export function createdText(c: StoredContainer): string {
  return `${ago(c.record.created)} ago`;
}

/** docker ps's PORTS column: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`. */
export function portsText(network: ContainerNetwork | undefined): string {
  return (network?.ports ?? []).map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

/** HostConfig.PortBindings: the `-p` values as asked for (HostPort '' where docker picks one at start). */
function portBindings(ports: readonly PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP, HostPort: p.hostPort === 0 ? '' : String(p.hostPort) });
  return out;
}

/** The process the spec runs, for inspect's Path and Args. */
async function specArgs(c: StoredContainer): Promise<string[]> {
  try {
    const spec = JSON.parse(await readFile(c.paths.spec, 'utf8')) as { process?: { args?: string[] } };
    return spec.process?.args ?? [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** docker inspect's shape for a container. */
export async function inspectView(c: StoredContainer, state: ContainerState, network: ContainerNetwork | undefined): Promise<unknown> {
  const { record } = c;
  const [path, ...args] = await specArgs(c);
  return {
    Id: record.id,
    Created: record.created,
    Path: path ?? '',
    Args: args,
    State: {
      Status: state.status,
      Running: state.status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: state.oomKilled,
      Dead: false,
      Pid: state.status === 'running' ? state.pid : 0,
      ExitCode: state.exitCode,
      Error: state.error,
      StartedAt: state.startedAt,
      FinishedAt: state.finishedAt,
    },
    Image: record.image.descriptor.digest,
    ImageName: record.image.name,
    Name: `/${record.name}`,
    RestartCount: state.restartCount,
    Driver: 'overlay',
    LogPath: c.paths.log,
    Mounts: record.mounts.map((m) => ({ Type: m.Type, ...(m.Name ? { Name: m.Name, Driver: 'local' } : {}), Source: m.Source, Destination: m.Destination, Mode: m.RW ? '' : 'ro', RW: m.RW, Propagation: m.Type === 'bind' ? 'rprivate' : '' })),
    Config: record.config,
    HostConfig: {
      NetworkMode: record.network,
      PortBindings: portBindings(record.ports ?? []),
      AutoRemove: record.autoRemove,
      RestartPolicy: { Name: record.restart.kind, MaximumRetryCount: record.restart.kind === 'on-failure' ? record.restart.maxRetries : 0 },
      Runtime: record.runtime,
    },
    NetworkSettings: toNetworkSettings(network),
  };
}
