import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allDone } from './allDone.js';
import type { NetworkMode } from './runOptions.js';

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

/** Where a container's files live in its etc directory. */
export function etcFilesIn(dir: string): EtcFiles {
  return { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') };
}

/** The host's resolv.conf, or none at all. */
async function hostResolvConf(): Promise<string> {
  try {
    return await readFile('/etc/resolv.conf', 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/**
 * A name server on the host's loopback (systemd-resolved's 127.0.0.53, a
 * local dnsmasq) is unreachable from another network namespace: podman drops
 * those lines for its bridge containers, and so does this.
 */
export function withoutLoopbackNameservers(resolvConf: string): string {
  return resolvConf
    .split('\n')
    .filter((line) => !/^\s*nameserver\s+(127\.\S*|::1)\s*$/.test(line))
    .join('\n');
}

/**
 * /etc/hosts: localhost, and the container's hostname on its bridge address
 * (docker's and podman's way), or on 127.0.1.1 (Debian's) while it has none.
 * Written in place: a running container's bind mount keeps seeing this inode.
 */
export async function writeHostsFile(path: string, hostname: string, ipAddress?: string): Promise<void> {
  await writeFile(path, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ipAddress ?? '127.0.1.1'}\t${hostname}\n`);
}

/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf for the container, kept in
 * its directory and bind-mounted, as docker does: the image's own files stay
 * untouched and a read-only rootfs still gets them. A bridge container's
 * hosts file gets its address when its network is connected.
 */
export async function writeEtcFiles(dir: string, hostname: string, network: NetworkMode): Promise<EtcFiles> {
  const files = etcFilesIn(dir);
  const resolvConf = async () => {
    switch (network) {
      case 'host':
        return hostResolvConf();
      case 'bridge':
        return withoutLoopbackNameservers(await hostResolvConf());
      case 'none':
        // Loopback only: no name server is reachable.
        return '';
    }
  };
  const [, content] = await Promise.all([mkdir(dir, { recursive: true }), resolvConf()]);
  // Independent files, written side by side; all of them end before a failure is reported and the directory undone.
  await allDone([writeFile(files.hostname, `${hostname}\n`), writeHostsFile(files.hosts, hostname), writeFile(files.resolvConf, content)]);
  return files;
}
