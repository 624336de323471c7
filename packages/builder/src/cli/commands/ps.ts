import type { Command } from 'commander';
import type { ContainerNetwork } from '../../runtime/network/recordedNetwork.js';
import type { ContainerRecord } from '../../runtime/containerRecord.js';
import { batchedMap } from '../../runtime/batchedMap.js';
import { observeState } from '../../runtime/containerStatus.js';
import { CONTAINERS_AT_ONCE } from '../../runtime/containerStore.js';
import { shortId } from '../../runtime/containerId.js';
import { openContainers } from '../containerStoreOption.js';
import { commandText, createdText, portsText, statusText } from '../containerView.js';
import { withRootOption } from '../storeOption.js';

/**
 * The network modules load for a running container's ports: `ps` with none
 * running needs none of them (#14). One container's damaged network state
 * leaves its PORTS empty rather than failing the whole list.
 */
async function networkOf(root: string, record: ContainerRecord): Promise<ContainerNetwork | undefined> {
  const [{ connectedNetwork }, { NetworkError }] = await Promise.all([import('../../runtime/containerNetwork.js'), import('../../runtime/network/networkError.js')]);
  return connectedNetwork(root, record).catch((e: unknown) => {
    if (e instanceof NetworkError && e.kind === 'damaged-state') return undefined;
    throw e;
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n');
}

export function psCommand(program: Command): void {
  withRootOption(program.command('ps'))
    .description('list containers (running ones unless -a)')
    .option('-a, --all', 'all containers, also created and exited ones')
    .option('-q, --quiet', 'only IDs')
    .option('--format <format>', '"json" for a JSON array')
    .action(async (opts: { all?: boolean; quiet?: boolean; format?: string }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const observed = await batchedMap(await containers.list(), CONTAINERS_AT_ONCE, async (c) => {
        const state = await observeState(containers, c);
        return { c, state, ports: state.status === 'running' ? portsText(await networkOf(store.root, c.record)) : '' };
      });
      const rows = observed.filter(({ state }) => opts.all || state.status === 'running');
      if (opts.quiet) {
        for (const { c } of rows) process.stdout.write(`${shortId(c.record.id)}\n`);
        return;
      }
      if (opts.format === 'json') {
        const out = rows.map(({ c, state, ports }) => ({
          Id: c.record.id,
          Names: [c.record.name],
          Image: c.record.config.Image,
          ImageID: c.record.image.descriptor.digest,
          Command: commandText(c),
          Created: c.record.created,
          State: state.status,
          Status: statusText(state),
          ExitCode: state.exitCode,
          Pid: state.pid,
          Ports: ports,
        }));
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      if (opts.format !== undefined) throw new Error(`unsupported --format ${JSON.stringify(opts.format)}: only json`);
      const lines = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
      for (const { c, state, ports } of rows) {
        const command = commandText(c);
        lines.push([shortId(c.record.id), c.record.config.Image, JSON.stringify(command.length > 20 ? `${command.slice(0, 19)}…` : command), createdText(c), statusText(state), ports, c.record.name]);
      }
      process.stdout.write(`${table(lines)}\n`);
    });
}
