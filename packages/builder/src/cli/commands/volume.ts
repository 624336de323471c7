import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { VolumeStore } from '../../runtime/volumeStore.js';
import { openContainers } from '../containerStoreOption.js';
import { withRootOption } from '../storeOption.js';

function collect(value: string, all: string[]): string[] {
  return [...all, value];
}

/** `tsbuild volume create|ls|inspect|rm|prune`: named volumes, docker's output. */
export function volumeCommand(program: Command): void {
  const group = withRootOption(program.command('volume')).description('manage named volumes');

  withRootOption(group.command('create'))
    .description('create a volume (a name is made up when none is given) and print its name')
    .argument('[name]', 'volume name')
    .option('--label <key=value>', 'set a label (repeatable)', collect, [])
    .action(async (name: string | undefined, opts: { label: string[] }, cmd: Command) => {
      const { store } = await openContainers(cmd);
      const labels = Object.fromEntries(opts.label.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
      const { volume } = await new VolumeStore(store).ensure(name, labels);
      process.stdout.write(`${volume.Name}\n`);
    });

  withRootOption(group.command('ls'))
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'names only')
    .action(async (opts: { quiet?: boolean }, cmd: Command) => {
      const { store } = await openContainers(cmd);
      const list = await new VolumeStore(store).list();
      if (opts.quiet) {
        process.stdout.write(list.map((v) => `${v.Name}\n`).join(''));
        return;
      }
      process.stdout.write(['DRIVER    VOLUME NAME', ...list.map((v) => `${v.Driver.padEnd(10)}${v.Name}`)].map((l) => `${l}\n`).join(''));
    });

  withRootOption(group.command('inspect'))
    .description('show volumes as JSON, in docker volume inspect\'s shape')
    .argument('<name...>', 'volume names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const { store } = await openContainers(cmd);
      const volumes = new VolumeStore(store);
      const out = [];
      for (const name of names) {
        const { Anonymous: _anonymous, ...shown } = await volumes.get(name);
        out.push(shown);
      }
      process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    });

  withRootOption(group.command('rm'))
    .alias('remove')
    .description('remove volumes no container uses')
    .argument('<name...>', 'volume names')
    .option('-f, --force', 'no error for a volume that does not exist')
    .action(async (names: string[], opts: { force?: boolean }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const volumes = new VolumeStore(store);
      for (const name of names) {
        if (opts.force && !(await volumes.find(name))) continue;
        await volumes.remove(containers, name);
        process.stdout.write(`${name}\n`);
      }
    });

  withRootOption(group.command('prune'))
    .description('remove anonymous volumes no container uses (-a: every unused volume)')
    .option('-a, --all', 'named volumes too')
    .option('-f, --force', 'do not ask (tsbuild never asks)')
    .action(async (opts: { all?: boolean }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const volumes = new VolumeStore(store);
      const removed: string[] = [];
      for (const v of await volumes.list()) {
        if (!opts.all && !v.Anonymous) continue;
        if ((await volumes.users(containers, v.Name)).length > 0) continue;
        try {
          await volumes.remove(containers, v.Name);
          removed.push(v.Name);
        } catch (e) {
          // Taken by a container created meanwhile: it stays.
          if (!(e instanceof ContainerError && e.kind === 'bad-state')) throw e;
        }
      }
      process.stdout.write(removed.length ? `Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}` : '');
    });

  for (const sub of group.commands) sub.exitOverride();
}
