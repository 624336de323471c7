import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { NetworkError } from './networkError.js';

interface Ipv4Range { start: number; end: number }

function parseCidr(cidr: string): Ipv4Range | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match || match.slice(1, 5).some((o) => Number(o) > 255) || Number(match[5]) > 32) return undefined;
  const address = match.slice(1, 5).reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(match[5]));
  const start = address - (address % size);
  return { start, end: start + size - 1 };
}

/** /proc/net/route writes addresses as 8 hex digits in host byte order. */
function procAddress(hex: string): number {
  const bytes = Buffer.alloc(4);
  if (endianness() === 'LE') bytes.writeUInt32LE(Number.parseInt(hex, 16));
  else bytes.writeUInt32BE(Number.parseInt(hex, 16));
  return bytes.readUInt32BE(0);
}

/**
 * Refuses a bridge subnet that overlaps a route the host already has on
 * another device (a LAN, a VPN, another container network): the bridge plugin
 * would add its route anyway and quietly break one of the two. Reads the main
 * table from /proc rather than running `ip route`: one process less per start.
 */
export async function checkSubnetFree(subnet: string, bridge: string): Promise<void> {
  if (subnet.includes(':')) return; // IPv6 ranges: the host's IPv6 routes are not in /proc/net/route
  const ours = parseCidr(subnet);
  if (!ours) throw new NetworkError('subnet-collision', `invalid bridge subnet ${JSON.stringify(subnet)}: expected an IPv4 CIDR`);
  const rows = (await readFile('/proc/net/route', 'utf8')).trim().split('\n').slice(1).map((line) => line.split(/\s+/));
  for (const [device, destination, , , , , , mask] of rows) {
    if (!device || !destination || !mask || device === bridge) continue;
    const netmask = procAddress(mask);
    if (netmask === 0) continue; // the default route overlaps everything by design
    const start = (procAddress(destination) & netmask) >>> 0;
    const end = (start | (~netmask >>> 0)) >>> 0;
    if (start <= ours.end && ours.start <= end) {
      const prefix = 32 - Math.log2(end - start + 1);
      const dotted = [24, 16, 8, 0].map((shift) => (start >>> shift) & 255).join('.');
      throw new NetworkError('subnet-collision', `bridge subnet ${subnet} overlaps the host route ${dotted}/${prefix} on ${device}`);
    }
  }
}
