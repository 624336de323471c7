import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { execInContainer } from '../../runtime/execInContainer.js';
import { parseEnv } from '../../runtime/runOptions.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { withRootOption } from '../storeOption.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function execCommand(program: Command): void {
  withRootOption(program.command('exec'))
    .description('run a command in a running container (its namespaces, cgroup, capabilities and seccomp)')
    .passThroughOptions()
    .argument('<container>', 'name or ID')
    .argument('<command...>', 'command and arguments')
    .option('-d, --detach', 'start it in the background')
    .option('-i, --interactive', 'pass stdin on')
    .option('-t, --tty', 'allocate a terminal (not supported yet)')
    .option('-e, --env <NAME[=value]>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'user (name or UID) to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .action(async (ref: string, command: string[], opts: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; user?: string; workdir?: string }, cmd: Command) => {
      if (opts.tty) throw new ContainerError('invalid-option', '-t is not supported yet');
      const { containers } = await openContainers(cmd);
      const code = await execInContainer(containers, await containers.find(ref), {
        command,
        env: parseEnv(opts.env),
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.workdir !== undefined ? { workdir: opts.workdir } : {}),
        detach: opts.detach ?? false,
        interactive: opts.interactive ?? false,
      });
      if (code !== 0) throw new ExitStatus(code);
    });
}
