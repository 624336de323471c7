import type { Command } from 'commander';

type Registrar = (program: Command) => void;

interface CommandModule {
  /** The top-level command names (and aliases) the module registers. */
  names: readonly string[];
  load: () => Promise<Registrar>;
}

/**
 * Every top-level command, in the order `--help` lists them, with the module
 * that registers it. Loaded on demand: `tsbuild run` (and conmon's exit
 * command, a tsbuild process per exited container) must not pay for
 * importing the build's Dockerfile parser or the registry client.
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['build'], load: async () => (await import('./commands/build.js')).buildCommand },
  { names: ['images', 'list'], load: async () => (await import('./commands/images.js')).imagesCommand },
  { names: ['inspect'], load: async () => (await import('./commands/inspect.js')).inspectCommand },
  { names: ['tag'], load: async () => (await import('./commands/tag.js')).tagCommand },
  { names: ['rmi'], load: async () => (await import('./commands/rmi.js')).rmiCommand },
  { names: ['prune'], load: async () => (await import('./commands/prune.js')).pruneCommand },
  { names: ['import'], load: async () => (await import('./commands/import.js')).importCommand },
  { names: ['bundle'], load: async () => (await import('./commands/bundle.js')).bundleCommand },
  { names: ['push'], load: async () => (await import('./commands/push.js')).pushCommand },
  { names: ['pull'], load: async () => (await import('./commands/pull.js')).pullCommand },
  { names: ['copy'], load: async () => (await import('./commands/copy.js')).copyCommand },
  { names: ['login'], load: async () => (await import('./commands/login.js')).loginCommand },
  { names: ['logout'], load: async () => (await import('./commands/logout.js')).logoutCommand },
  { names: ['tags'], load: async () => (await import('./commands/tags.js')).tagsCommand },
  { names: ['delete'], load: async () => (await import('./commands/delete.js')).deleteCommand },
  { names: ['system'], load: async () => (await import('./commands/system.js')).systemCommand },
  { names: ['run'], load: async () => (await import('./commands/run.js')).runCommand },
  { names: ['ps'], load: async () => (await import('./commands/ps.js')).psCommand },
  { names: ['logs'], load: async () => (await import('./commands/logs.js')).logsCommand },
  { names: ['start', 'stop', 'restart', 'kill', 'top', 'wait', 'rm'], load: async () => (await import('./commands/lifecycle.js')).lifecycleCommands },
  { names: ['container'], load: async () => (await import('./commands/container.js')).containerCommand },
  { names: ['exec'], load: async () => (await import('./commands/exec.js')).execCommand },
  { names: ['attach'], load: async () => (await import('./commands/attach.js')).attachCommand },
  { names: ['diff', 'commit'], load: async () => (await import('./commands/containerChanges.js')).containerChangesCommands },
  { names: ['cp'], load: async () => (await import('./commands/copyFiles.js')).copyFilesCommand },
  { names: ['volume'], load: async () => (await import('./commands/volume.js')).volumeCommand },
  { names: ['port'], load: async () => (await import('./commands/port.js')).portCommand },
  { names: ['image'], load: async () => (await import('./commands/image.js')).imageCommand },
  { names: ['history'], load: async () => (await import('./commands/history.js')).historyCommand },
  { names: ['save'], load: async () => (await import('./commands/save.js')).saveCommand },
  { names: ['load'], load: async () => (await import('./commands/load.js')).loadCommand },
  { names: ['manifest'], load: async () => (await import('./commands/manifest.js')).manifestCommand },
];

/** The first word after the global options: the command name, when there is one. */
export function commandWord(args: string[]): string | undefined {
  let i = 0;
  while (args[i] === '--root' || args[i]?.startsWith('--root=')) i += args[i] === '--root' ? 2 : 1;
  return args[i];
}

/**
 * The registrars a command line needs: only the named command's module when
 * the first word names one, else all of them (help, the default `build` with
 * a context path, and the check that suggests the nearest name for a typo).
 */
export async function registrarsFor(args: string[]): Promise<Registrar[]> {
  const word = commandWord(args);
  const own = COMMAND_MODULES.find((m) => word !== undefined && m.names.includes(word));
  return Promise.all((own ? [own] : COMMAND_MODULES).map((m) => m.load()));
}
