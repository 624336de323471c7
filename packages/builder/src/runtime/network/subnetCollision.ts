import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NetworkError } from './networkError.js';

const exec = promisify(execFile);

interface Ipv4Range { start: number; end: number }

function toRange(cidr: string): Ipv4Range | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr);
  if (!match) return undefined;
  const address = match.slice(1, 5).reduce((n, octet) => n * 256 + Number(octet), 0);
  const bits = match[5] === undefined ? 32 : Number(match[5]);
  const size = 2 ** (32 - bits);
  const start = address - (address % size);
  return { start, end: start + size - 1 };
}

/**
 * Refuses a bridge subnet that overlaps a route the host already has on
 * another device (a LAN, a VPN, another container network): the bridge plugin
 * would add its route anyway and quietly break one of the two.
 */
export async function checkSubnetFree(subnet: string, bridge: string): Promise<void> {
  const ours = toRange(subnet);
  if (!ours) throw new NetworkError('subnet-collision', `invalid bridge subnet ${JSON.stringify(subnet)}: expected an IPv4 CIDR`);
  const { stdout } = await exec('ip', ['-j', '-4', 'route', 'show']);
  const routes = JSON.parse(stdout) as { dst: string; dev?: string }[];
  for (const route of routes) {
    const theirs = route.dst === 'default' ? undefined : toRange(route.dst);
    if (!theirs || route.dev === bridge) continue;
    if (theirs.start <= ours.end && ours.start <= theirs.end) {
      throw new NetworkError('subnet-collision', `bridge subnet ${subnet} overlaps the host route ${route.dst} on ${route.dev ?? 'another device'}`);
    }
  }
}
