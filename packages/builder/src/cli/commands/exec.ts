import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { execInContainer } from '../../runtime/execInContainer.js';
import { parseEnv } from '../../runtime/runOptions.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { execAttached } from '../execAttached.js';
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
    .option('-t, --tty', 'give the process a terminal (with -i: ours goes raw, ctrl-c reaches it, resizes pass on, the detach keys leave it running)')
    .option('-e, --env <NAME[=value]>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'user (name or UID) to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--detach-keys <keys>', 'with -t: key sequence that detaches, leaving the process running', 'ctrl-p,ctrl-q')
    .action(async (ref: string, command: string[], opts: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; user?: string; workdir?: string; detachKeys: string }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const tty = (opts.tty ?? false) && !opts.detach;
      if (tty && !isatty(0) && !isatty(1)) throw new ContainerError('invalid-option', 'exec -t: the input device is not a TTY');
      if (tty) {
        // A terminal: under a conmon of its own, so that the detach keys can leave it running.
        await execAttached(containers, c, { command, env: parseEnv(opts.env), ...(opts.user !== undefined ? { user: opts.user } : {}),
          ...(opts.workdir !== undefined ? { workdir: opts.workdir } : {}), terminal: true, stdin: opts.interactive ?? false }, opts.detachKeys);
        return;
      }
      const code = await execInContainer(containers, c, {
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
