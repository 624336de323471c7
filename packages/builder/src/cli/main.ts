import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitStatus, USAGE_EXIT_CODE } from './exitStatus.js';
import { commandWord, COMMAND_MODULES, DEFAULT_COMMAND, looksLikeMistypedCommand, modulesToLoad } from './commandModules.js';
import { listedCommand, listingHelp } from './commandListing.js';

/** `tsbuild version X` as podman and buildah print theirs; the built CLI and its bundle both lie two levels below the package. */
function versionLine(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `tsbuild version ${version}`;
}

async function program(args: string[]): Promise<Command> {
  const root = new Command('tsbuild')
    .description('Build, inspect, move and run OCI container images without a daemon.')
    .version(versionLine(), '-v, --version', 'print the version')
    .option('--root <dir>', 'store root (default: $TSBUILD_ROOT or ${XDG_DATA_HOME:-~/.local/share}/tsbuild)')
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp(listingHelp)
    .exitOverride();
  const loading = modulesToLoad(args);
  const registrars = await Promise.all(loading.map((m) => m.load()));
  // In the table's order, loaded or listed: that is the order help lists them in.
  for (const module of COMMAND_MODULES) {
    const loaded = loading.indexOf(module);
    if (loaded >= 0) registrars[loaded]!(root);
    else for (const listing of module.commands) root.addCommand(listedCommand(listing), { isDefault: listing.name === DEFAULT_COMMAND });
  }
  for (const cmd of root.commands) cmd.exitOverride();
  for (const cmd of root.commands.flatMap((c) => c.commands)) cmd.exitOverride();
  return root;
}

/**
 * `tsbuild imgaes` would be read as a build of the context `imgaes/`: such a first word goes
 * through the typo check. Its error class comes with oci-layout's index, which a command line
 * that names its command need not load.
 */
async function checkCommandWord(args: string[]): Promise<void> {
  const word = commandWord(args);
  if (word !== undefined && looksLikeMistypedCommand(word)) (await import('./unknownCommand.js')).checkMistypedCommand(word);
}

/** Runs the CLI; returns the exit code. Errors are one line a person can act on, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // Nothing left to run while the command has not finished means it waits for what can never come
  // (a stream nobody reads): that must fail loudly, not end the process with status 0.
  const stalled = () => {
    process.stderr.write('tsbuild: error: the command stopped before it finished (nothing was left to wait for); this is a bug in tsbuild\n');
    process.exit(70);
  };
  process.once('beforeExit', stalled);
  try {
    await checkCommandWord(argv.slice(2));
    const cli = await program(argv.slice(2));
    await cli.parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander has printed its message; help and --version end with 0, a command line it refused with 1.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    if (e instanceof ExitStatus) return e.code;
    // Loaded here, not up front: help and the commands that do not touch a store need none of oci-layout (#14).
    const { NoSpaceLeftError, ToolError } = await import('@tsbuild/oci-layout');
    const raw = e as NodeJS.ErrnoException;
    // Node's ENOSPC from a write on a handle names no path; the writers we know of name theirs (NoSpaceLeftError).
    const message = raw.code === 'ENOSPC' && !(e instanceof NoSpaceLeftError) ? `no space left on device${raw.path ? ` writing ${raw.path}` : ''}` : raw.message;
    process.stderr.write(`tsbuild: error: ${message}\n`);
    if (process.env.TSBUILD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return e instanceof ToolError ? e.exitCode : 1;
  } finally {
    process.off('beforeExit', stalled);
  }
}
