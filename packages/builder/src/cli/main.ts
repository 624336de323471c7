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
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const add of [buildCommand, imagesCommand, inspectCommand, tagCommand, rmiCommand, pruneCommand, importCommand, bundleCommand, pushCommand, pullCommand, copyCommand, loginCommand, logoutCommand, tagsCommand, deleteCommand]) add(root);
  for (const add of [imageCommand, historyCommand, saveCommand, loadCommand, manifestCommand]) add(root);
  for (const cmd of root.commands) cmd.exitOverride();
  return root;
}

/** Runs the CLI; returns the exit code. Errors are one line a person can act on, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    const cli = program();
    checkCommandWord(cli, argv.slice(2));
    await cli.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(`tsbuild: error: ${(e as Error).message}\n`);
    if (process.env.TSBUILD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    const code = (e as { exitCode?: unknown }).exitCode;
    return typeof code === 'number' ? code : 1;
  }
}
