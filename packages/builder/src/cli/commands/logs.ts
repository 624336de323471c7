import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { observeIfPresent } from '../../runtime/containerStatus.js';
import { LogTail, readLog } from '../../runtime/k8sFileLog.js';
import { openContainers } from '../containerStoreOption.js';
import { logWriter } from '../logOutput.js';
import { withRootOption } from '../storeOption.js';

export function logsCommand(program: Command): void {
  withRootOption(program.command('logs'))
    .description('print a container\'s output: its stdout to stdout, its stderr to stderr')
    .argument('<container>', 'name or ID')
    .option('-f, --follow', 'keep printing new output until the container exits')
    .option('-n, --tail <lines>', 'only the last N lines ("all" for everything)', 'all')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action(async (ref: string, opts: { follow?: boolean; tail: string; timestamps?: boolean }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const write = logWriter(opts.timestamps ?? false);
      const running = async () => (await observeIfPresent(containers, c))?.status === 'running';
      let offset = 0;
      if (opts.tail !== 'all') {
        const lines = Number(opts.tail);
        if (!Number.isInteger(lines) || lines < 0) throw new ContainerError('invalid-option', `invalid --tail ${JSON.stringify(opts.tail)}: expected a number or "all"`);
        const tail = new LogTail(lines);
        offset = await readLog(c.paths.log, 0, (r) => tail.add(r), async () => false);
        for (const r of tail.take()) write(r);
      }
      await readLog(c.paths.log, offset, write, opts.follow ? running : async () => false);
    });
}
