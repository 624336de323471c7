import { Command, CommanderError } from 'commander';
import { NoSpaceLeftError, ToolError } from '@tsbuild/oci-layout';
import { buildCommand } from './commands/build.js';
import { bundleCommand } from './commands/bundle.js';
import { imagesCommand } from './commands/images.js';
import { importCommand } from './commands/import.js';
import { inspectCommand } from './commands/inspect.js';
import { pruneCommand } from './commands/prune.js';
import { rmiCommand } from './commands/rmi.js';
import { tagCommand } from './commands/tag.js';
import { copyCommand } from './commands/copy.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { tagsCommand } from './commands/tags.js';
import { deleteCommand } from './commands/delete.js';
import { runCommand } from './commands/run.js';
import { portCommand } from './commands/port.js';
import { psCommand } from './commands/ps.js';
import { logsCommand } from './commands/logs.js';
import { lifecycleCommands } from './commands/lifecycle.js';
import { containerCommand } from './commands/container.js';
import { execCommand } from './commands/exec.js';
import { attachCommand } from './commands/attach.js';
import { containerChangesCommands } from './commands/containerChanges.js';
import { copyFilesCommand } from './commands/copyFiles.js';
import { volumeCommand } from './commands/volume.js';
import { ExitStatus } from './exitStatus.js';
import { systemCommand } from './commands/system.js';
import { imageCommand } from './commands/image.js';
import { historyCommand } from './commands/history.js';
import { saveCommand } from './commands/save.js';
import { loadCommand } from './commands/load.js';
import { manifestCommand } from './commands/manifest.js';
import { checkCommandWord } from './unknownCommand.js';

function program(): Command {
  const root = new Command('tsbuild')
    .description('Build, inspect, move and run OCI container images without a daemon.')
    .option('--root <dir>', 'store root (default: $TSBUILD_ROOT or ${XDG_DATA_HOME:-~/.local/share}/tsbuild)')
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const add of [buildCommand, imagesCommand, inspectCommand, tagCommand, rmiCommand, pruneCommand, importCommand, bundleCommand, pushCommand, pullCommand, copyCommand, loginCommand, logoutCommand, tagsCommand, deleteCommand, systemCommand]) add(root);
  for (const add of [runCommand, psCommand, logsCommand, lifecycleCommands, containerCommand, execCommand, attachCommand, containerChangesCommands, copyFilesCommand, volumeCommand, portCommand]) add(root);
  for (const add of [imageCommand, historyCommand, saveCommand, loadCommand, manifestCommand]) add(root);
  for (const cmd of root.commands) cmd.exitOverride();
  for (const cmd of root.commands.flatMap((c) => c.commands)) cmd.exitOverride();
  return root;
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
    const cli = program();
    checkCommandWord(cli, argv.slice(2));
    await cli.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ExitStatus) return e.code;
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
