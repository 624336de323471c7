import type { ContainerNetwork } from './recordedNetwork.js';

/** One host binding of a published port, as docker's inspect shows it. */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** `NetworkSettings` of `docker inspect` (the fields tsbuild knows); empty strings where docker has them empty. */
export interface NetworkSettings {
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** Network namespace path (docker: /var/run/docker/netns/...); '' with the host's network. */
  SandboxKey: string;
  /** "80/tcp" -> bindings; an exposed port that is not published maps to null. */
  Ports: Record<string, PortBinding[] | null>;
}

/**
 * Docker's inspect shape for a container's network. `exposedPorts` are the
 * image's ExposedPorts keys ("80/tcp"); docker lists them even unpublished.
 */
export function toNetworkSettings(network: ContainerNetwork | undefined, exposedPorts: readonly string[] = []): NetworkSettings {
  const ports: Record<string, PortBinding[] | null> = {};
  if (network?.mode === 'bridge') for (const key of exposedPorts) ports[key] = null;
  for (const port of network?.ports ?? []) {
    const key = `${port.containerPort}/${port.protocol}`;
    (ports[key] ??= []).push({ HostIp: port.hostIP || '0.0.0.0', HostPort: String(port.hostPort) });
  }
  return {
    IPAddress: network?.ipAddress ?? '',
    IPPrefixLen: network?.prefixLength ?? 0,
    Gateway: network?.gateway ?? '',
    MacAddress: network?.macAddress ?? '',
    SandboxKey: network?.netnsPath ?? '',
    Ports: ports,
  };
}
