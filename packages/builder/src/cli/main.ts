import { Command, CommanderError } from 'commander';
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
import { psCommand } from './commands/ps.js';
import { logsCommand } from './commands/logs.js';
import { lifecycleCommands } from './commands/lifecycle.js';
import { containerCommand } from './commands/container.js';
import { execCommand } from './commands/exec.js';
import { attachCommand } from './commands/attach.js';
import { ExitStatus } from './exitStatus.js';

function program(): Command {
  const root = new Command('tsbuild')
    .description('Build, inspect, move and run OCI container images without a daemon.')
    .option('--root <dir>', 'store root (default: $TSBUILD_ROOT or ${XDG_DATA_HOME:-~/.local/share}/tsbuild)')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  for (const add of [buildCommand, imagesCommand, inspectCommand, tagCommand, rmiCommand, pruneCommand, importCommand, bundleCommand, pushCommand, pullCommand, copyCommand, loginCommand, logoutCommand, tagsCommand, deleteCommand, runCommand, psCommand, logsCommand, lifecycleCommands, containerCommand, execCommand, attachCommand]) add(root);
  for (const cmd of root.commands) cmd.exitOverride();
  return root;
}

/** Runs the CLI; returns the exit code. Errors are one line a person can act on, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ExitStatus) return e.code;
    process.stderr.write(`tsbuild: error: ${(e as Error).message}\n`);
    if (process.env.TSBUILD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    const code = (e as { exitCode?: unknown }).exitCode;
    return typeof code === 'number' ? code : 1;
  }
}
