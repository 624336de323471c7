import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkMode } from './runOptions.js';

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf for the container, kept in
 * its directory and bind-mounted, as docker does: the image's own files stay
 * untouched and a read-only rootfs still gets them.
 */
export async function writeEtcFiles(dir: string, hostname: string, network: NetworkMode): Promise<EtcFiles> {
  await mkdir(dir, { recursive: true });
  const files = { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') };
  await writeFile(files.hostname, `${hostname}\n`);
  await writeFile(files.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
  if (network === 'host') {
    await copyFile('/etc/resolv.conf', files.resolvConf).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await writeFile(files.resolvConf, '');
    });
  } else {
    // Loopback only: no name server is reachable.
    await writeFile(files.resolvConf, '');
  }
  return files;
}
