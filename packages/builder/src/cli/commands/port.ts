import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { connectedNetwork } from '../../runtime/containerNetwork.js';
import type { PortMapping } from '../../runtime/network/portMapping.js';
import { openContainers } from '../containerStoreOption.js';
import { withRootOption } from '../storeOption.js';

/** `80` or `80/udp` (tcp when no protocol is given, as docker reads it). */
function parsePrivatePort(text: string): { port: number; protocol: string } {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new ContainerError('invalid-option', `invalid port ${JSON.stringify(text)}: expected PORT[/tcp|udp]`);
  return { port: Number(m[1]), protocol: m[2] ?? 'tcp' };
}

const hostSide = (p: PortMapping) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}`;

export function portCommand(program: Command): void {
  withRootOption(program.command('port'))
    .description('list a running container\'s published ports (docker port)')
    .argument('<container>', 'name or ID')
    .argument('[private-port]', 'only this container port: PORT[/tcp|udp]')
    .action(async (ref: string, privatePort: string | undefined, _opts: unknown, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const ports = (await connectedNetwork(store.root, c.record))?.ports ?? [];
      if (privatePort === undefined) {
        for (const p of ports) process.stdout.write(`${p.containerPort}/${p.protocol} -> ${hostSide(p)}\n`);
        return;
      }
      const wanted = parsePrivatePort(privatePort);
      const matching = ports.filter((p) => p.containerPort === wanted.port && p.protocol === wanted.protocol);
      if (matching.length === 0) throw new ContainerError('not-published', `no public port ${wanted.port}/${wanted.protocol} published for ${c.record.name}`);
      for (const p of matching) process.stdout.write(`${hostSide(p)}\n`);
    });
}
