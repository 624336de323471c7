import { DEFAULT_CAPABILITIES } from '@tsbuild/oci-layout';
import { ContainerError } from './containerError.js';

/** Every capability Linux 5.9+ knows, in number order (`--privileged` and `--cap-add ALL`). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's rule: start from the default set (or all when privileged), add, then drop; `ALL` means every one. */
export function resolveCapabilities(add: string[], drop: string[], privileged: boolean): string[] {
  for (const cap of [...add, ...drop]) {
    if (cap !== 'ALL' && !ALL_CAPABILITIES.includes(cap)) throw new ContainerError('invalid-option', `unknown capability ${cap}`);
  }
  const set = new Set(privileged || add.includes('ALL') ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES);
  for (const cap of add) if (cap !== 'ALL') set.add(cap);
  if (drop.includes('ALL')) set.clear();
  for (const cap of drop) set.delete(cap);
  for (const cap of add) if (cap !== 'ALL' && drop.includes('ALL')) set.add(cap);
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}
