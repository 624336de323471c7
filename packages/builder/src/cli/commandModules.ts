import type { Command } from 'commander';

type Registrar = (program: Command) => void;

/**
 * How top-level help lists a command: what its module registers, written down so that
 * listing every command imports none of them (#14). test/e2e/commandList.test.ts holds
 * each listing to the command's own `--help`.
 */
export interface CommandListing {
  name: string;
  /** Help shows the first; all of them name the command on the command line. */
  aliases?: readonly string[];
  /** What follows the name: `[options]` when it has options of its own, then its arguments. */
  usage: string;
  summary: string;
}

interface CommandModule {
  /** The top-level commands the module registers, in the order it registers them. */
  commands: readonly CommandListing[];
  load: () => Promise<Registrar>;
}

/** What runs when the first word names no command (`tsbuild -t NAME .`). */
export const DEFAULT_COMMAND = 'build';

/**
 * Every top-level command, in the order `--help` lists them, with the module
 * that registers it. Loaded on demand: `tsbuild run` (and conmon's exit
 * command, a tsbuild process per exited container) must not pay for
 * importing the build's Dockerfile parser or the registry client, nor
 * `tsbuild --help` for any of them.
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    commands: [{ name: 'build', usage: '[options] [context]', summary: 'build an image from a Dockerfile (the default command: `tsbuild -t NAME .`)' }],
    load: async () => (await import('./commands/build.js')).buildCommand,
  },
  {
    commands: [{ name: 'images', aliases: ['list'], usage: '[options]', summary: 'list images in the local store' }],
    load: async () => (await import('./commands/images.js')).imagesCommand,
  },
  {
    commands: [{ name: 'inspect', usage: '[options] <image>', summary: 'show a container (docker inspect\'s shape) or an image\'s manifest and config as JSON' }],
    load: async () => (await import('./commands/inspect.js')).inspectCommand,
  },
  {
    commands: [{ name: 'tag', usage: '[options] <source> <target...>', summary: 'give an image one or more additional names' }],
    load: async () => (await import('./commands/tag.js')).tagCommand,
  },
  {
    commands: [{ name: 'rmi', usage: '[options] <image...>', summary: 'remove image names from the store (blobs go with `prune`)' }],
    load: async () => (await import('./commands/rmi.js')).rmiCommand,
  },
  {
    commands: [{ name: 'prune', usage: '[options]', summary: 'delete blobs no image uses, dead build cache and leftovers of interrupted writes and killed builds; --cache: only build cache records, as buildx prune' }],
    load: async () => (await import('./commands/prune.js')).pruneCommand,
  },
  {
    commands: [{ name: 'import', usage: '[options] <tarball> <name...>', summary: 'create a one-layer base image from a root filesystem tarball (like `docker import`)' }],
    load: async () => (await import('./commands/import.js')).importCommand,
  },
  {
    commands: [{ name: 'bundle', usage: '[options] <image> <dir>', summary: 'write an OCI runtime bundle (DIR/rootfs + DIR/config.json) that `runc run -b DIR` runs' }],
    load: async () => (await import('./commands/bundle.js')).bundleCommand,
  },
  {
    commands: [{ name: 'push', usage: '[options] <image> [destination]', summary: 'push an image from the store to a registry (default destination: docker://<its name>)' }],
    load: async () => (await import('./commands/push.js')).pushCommand,
  },
  {
    commands: [{ name: 'pull', usage: '[options] <reference>', summary: 'pull an image from a registry into the store, named by its fully qualified reference' }],
    load: async () => (await import('./commands/pull.js')).pullCommand,
  },
  {
    commands: [{ name: 'copy', usage: '[options] <source> <destination>', summary: 'copy an image between registries (docker://), OCI layouts (oci:DIR[:REF]), archives (oci-archive:, docker-archive:) and the store (plain names)' }],
    load: async () => (await import('./commands/copy.js')).copyCommand,
  },
  {
    commands: [{ name: 'login', usage: '[options] <registry>', summary: 'check credentials against a registry and store them in containers auth.json' }],
    load: async () => (await import('./commands/login.js')).loginCommand,
  },
  {
    commands: [{ name: 'logout', usage: '<registry>', summary: 'remove a registry\'s credentials from containers auth.json' }],
    load: async () => (await import('./commands/logout.js')).logoutCommand,
  },
  {
    commands: [{ name: 'tags', usage: '[options] <repository>', summary: 'list the tags of a registry repository' }],
    load: async () => (await import('./commands/tags.js')).tagsCommand,
  },
  {
    commands: [{ name: 'delete', usage: '[options] <reference>', summary: 'delete an image (its manifest, with every tag pointing at it) from a registry' }],
    load: async () => (await import('./commands/delete.js')).deleteCommand,
  },
  {
    commands: [{ name: 'system', usage: '', summary: 'manage the store as a whole' }],
    load: async () => (await import('./commands/system.js')).systemCommand,
  },
  {
    commands: [{ name: 'run', usage: '[options] <image> [command...]', summary: 'create and start a container from an image, supervised by conmon (docker run)' }],
    load: async () => (await import('./commands/run.js')).runCommand,
  },
  {
    commands: [{ name: 'ps', usage: '[options]', summary: 'list containers (running ones unless -a)' }],
    load: async () => (await import('./commands/ps.js')).psCommand,
  },
  {
    commands: [{ name: 'logs', usage: '[options] <container>', summary: 'print a container\'s output: its stdout to stdout, its stderr to stderr' }],
    load: async () => (await import('./commands/logs.js')).logsCommand,
  },
  {
    commands: [
      { name: 'start', usage: '[options] <container...>', summary: 'start created or exited containers in the background (with -a: in the foreground, exiting with its code)' },
      { name: 'stop', usage: '[options] <container...>', summary: 'stop running containers: their stop signal, then SIGKILL after the timeout' },
      { name: 'restart', usage: '[options] <container...>', summary: 'stop (if running) and start containers again' },
      { name: 'kill', usage: '[options] <container...>', summary: 'send a signal to running containers' },
      { name: 'top', usage: '[options] <container> [ps-options...]', summary: 'list the processes of a running container (ps -ef, or the ps options given)' },
      { name: 'wait', usage: '[options] <container...>', summary: 'wait until containers exit and print their exit codes' },
      { name: 'rm', usage: '[options] <container...>', summary: 'remove containers: their state, logs, rootfs changes and runtime leftovers' },
    ],
    load: async () => (await import('./commands/lifecycle.js')).lifecycleCommands,
  },
  {
    commands: [{ name: 'container', usage: '[options]', summary: 'manage containers' }],
    load: async () => (await import('./commands/container.js')).containerCommand,
  },
  {
    commands: [{ name: 'exec', usage: '[options] <container> <command...>', summary: 'run a command in a running container (its namespaces, cgroup, capabilities and seccomp)' }],
    load: async () => (await import('./commands/exec.js')).execCommand,
  },
  {
    commands: [{ name: 'attach', usage: '[options] <container>', summary: 'attach to a running container: its output from now on, our stdin to it (when started with -i)' }],
    load: async () => (await import('./commands/attach.js')).attachCommand,
  },
  {
    commands: [
      { name: 'diff', usage: '[options] <container>', summary: 'list the files a container added (A), changed (C) or deleted (D), as docker diff' },
      { name: 'commit', usage: '[options] <container> [image]', summary: 'create an image from a container\'s changes (one new layer on its image); the container is not paused' },
    ],
    load: async () => (await import('./commands/containerChanges.js')).containerChangesCommands,
  },
  {
    commands: [{ name: 'cp', usage: '[options] <src> <dest>', summary: 'copy files between a container and the host (CTR:PATH DEST, SRC CTR:PATH; - is a tar stream on stdout/stdin)' }],
    load: async () => (await import('./commands/copyFiles.js')).copyFilesCommand,
  },
  {
    commands: [{ name: 'volume', usage: '[options]', summary: 'manage named volumes' }],
    load: async () => (await import('./commands/volume.js')).volumeCommand,
  },
  {
    commands: [{ name: 'port', usage: '[options] <container> [private-port]', summary: 'list a running container\'s published ports (docker port)' }],
    load: async () => (await import('./commands/port.js')).portCommand,
  },
  {
    commands: [{ name: 'image', usage: '', summary: 'manage images (image prune)' }],
    load: async () => (await import('./commands/image.js')).imageCommand,
  },
  {
    commands: [{ name: 'history', usage: '[options] <image>', summary: 'show how an image was built: one row per history entry, newest first, with its layer\'s size' }],
    load: async () => (await import('./commands/history.js')).historyCommand,
  },
  {
    commands: [{ name: 'save', usage: '[options] <image...>', summary: 'write images from the store to an archive that docker load, podman load and skopeo read' }],
    load: async () => (await import('./commands/save.js')).saveCommand,
  },
  {
    commands: [{ name: 'load', usage: '[options]', summary: 'read images from a docker-archive (docker save, podman save) or an oci-archive, told apart by content' }],
    load: async () => (await import('./commands/load.js')).loadCommand,
  },
  {
    commands: [{ name: 'manifest', usage: '', summary: 'multi-platform manifest lists (OCI indexes): create, add, inspect, push' }],
    load: async () => (await import('./commands/manifest.js')).manifestCommand,
  },
];

/** Where the command word is: the first argument after the global options. */
function commandWordIndex(args: string[]): number {
  let i = 0;
  while (args[i] === '--root' || args[i]?.startsWith('--root=')) i += args[i] === '--root' ? 2 : 1;
  return i;
}

/** The first word after the global options: the command name, when there is one. */
export function commandWord(args: string[]): string | undefined {
  return args[commandWordIndex(args)];
}

const moduleNaming = (word: string | undefined) =>
  word === undefined ? undefined : COMMAND_MODULES.find((m) => m.commands.some((c) => c.name === word || c.aliases?.includes(word)));

/** Every word that names a command: the listed names and aliases, and commander's own `help`. */
export function commandNames(): string[] {
  return ['help', ...COMMAND_MODULES.flatMap((m) => m.commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]))];
}

/**
 * A word that looks like a command name (lowercase letters and dashes, no path characters) but
 * names no command: a typo of one, unless it is a path (a build context).
 */
export function looksLikeMistypedCommand(word: string): boolean {
  return /^[a-z][a-z0-9-]*$/.test(word) && !commandNames().includes(word);
}

const isHelpFlag = (arg: string) => arg === '-h' || arg === '--help';

/**
 * The modules a command line runs, to be loaded; the other commands are only listed. That
 * is the named command's module, or the one `help NAME` shows; with no command named,
 * the default command's, unless the line asks for top-level help, which needs none:
 * commander shows it instead of running the default command when a help flag is anywhere
 * among the arguments, unless they start with `--`.
 */
export function modulesToLoad(args: string[]): CommandModule[] {
  const at = commandWordIndex(args);
  const named = moduleNaming(args[at] === 'help' ? args[at + 1] : args[at]);
  if (named) return [named];
  if (args[at] === 'help') return [];
  const rest = args.slice(at);
  if (rest[0] !== '--' && rest.some(isHelpFlag)) return [];
  return [moduleNaming(DEFAULT_COMMAND)!];
}
