import { isIPv4 } from 'node:net';
import { NetworkError } from './networkError.js';

export type PortProtocol = 'tcp' | 'udp';

/** One published port, as `-p` gives it; the same shape the portmap plugin takes in runtimeConfig. */
export interface PortMapping {
  /** Host address to listen on; '' means every address of the host. */
  hostIP: string;
  /** 0 asks for a free port, chosen when the network is set up. */
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

function parsePort(text: string, what: string, value: string, allowZero: boolean): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535 && (port > 0 || (allowZero && port === 0)))) {
    throw new NetworkError('invalid-publish', `invalid ${what} port ${JSON.stringify(text)} in --publish ${JSON.stringify(value)}`);
  }
  return port;
}

/**
 * Parses a `-p/--publish` value: `[IP:][HOST:]CTR[/tcp|udp]`. An empty or
 * missing HOST (`CTR`, `IP::CTR`) asks for a free host port, as docker does.
 * Port ranges and IPv6 host addresses are refused: the bridge network is IPv4.
 */
export function parsePublish(value: string): PortMapping {
  const slash = value.lastIndexOf('/');
  const protoText = slash >= 0 ? value.slice(slash + 1) : 'tcp';
  if (protoText !== 'tcp' && protoText !== 'udp') {
    throw new NetworkError('invalid-publish', `invalid protocol ${JSON.stringify(protoText)} in --publish ${JSON.stringify(value)} (tcp or udp)`);
  }
  const parts = (slash >= 0 ? value.slice(0, slash) : value).split(':');
  if (parts.length > 3) {
    throw new NetworkError('invalid-publish', `invalid --publish ${JSON.stringify(value)}: expected [IP:][HOST:]CTR[/tcp|udp] (IPv6 host addresses are not supported)`);
  }
  if (parts.some((p) => p.includes('-'))) {
    throw new NetworkError('invalid-publish', `invalid --publish ${JSON.stringify(value)}: port ranges are not supported`);
  }
  const [ip, host, ctr] = parts.length === 3 ? parts : parts.length === 2 ? ['', ...parts] : ['', '', ...parts];
  if (ip !== '' && !isIPv4(ip)) {
    throw new NetworkError('invalid-publish', `invalid host IP ${JSON.stringify(ip)} in --publish ${JSON.stringify(value)}`);
  }
  return {
    hostIP: ip === '0.0.0.0' ? '' : ip,
    hostPort: host === '' ? 0 : parsePort(host, 'host', value, false),
    containerPort: parsePort(ctr, 'container', value, false),
    protocol: protoText,
  };
}

/** `0.0.0.0:8080/tcp`: how errors and `port` name a mapping's host side. */
export function describeHostPort(port: PortMapping): string {
  return `${port.hostIP || '0.0.0.0'}:${port.hostPort}/${port.protocol}`;
}
