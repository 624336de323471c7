import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { execInContainer } from '../../runtime/execInContainer.js';
import { parseEnv } from '../../runtime/runOptions.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { SavedTerminal } from '../savedTerminal.js';
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
    .option('-t, --tty', 'give the process a terminal (with -i: ours goes raw, ctrl-c reaches it, resizes pass on)')
    .option('-e, --env <NAME[=value]>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'user (name or UID) to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .action(async (ref: string, command: string[], opts: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; user?: string; workdir?: string }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const tty = (opts.tty ?? false) && !opts.detach;
      // runc's foreground PTY copies to and from our terminal: without one it refuses.
      if (tty && !isatty(0) && !isatty(1)) throw new ContainerError('invalid-option', 'exec -t: the input device is not a TTY');
      // runc gives our terminal back when it ends; if it is killed instead, our saved settings do.
      const terminal = tty ? await SavedTerminal.save() : undefined;
      let code: number;
      try {
        code = await execInContainer(containers, c, {
          command,
          env: parseEnv(opts.env),
          ...(opts.user !== undefined ? { user: opts.user } : {}),
          ...(opts.workdir !== undefined ? { workdir: opts.workdir } : {}),
          detach: opts.detach ?? false,
          interactive: opts.interactive ?? false,
          tty,
        });
      } finally {
        await terminal?.restore();
      }
      if (code !== 0) throw new ExitStatus(code);
    });
}
