import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ToolError } from '@tsbuild/oci-layout';
import { nearestName } from '../nearestName.js';
import { commandWord } from './commandModules.js';

/** Podman's exit code when the CLI itself refuses the command line. */
export const USAGE_EXIT_CODE = 125;

export class UnknownCommandError extends ToolError<'unknown-command'> {
  constructor(message: string) {
    super('unknown-command', message, USAGE_EXIT_CODE);
  }
}

/**
 * `build` is the default command, so `tsbuild imgaes` would read `imgaes/` as a context. A first word
 * that looks like a command name (lowercase letters and dashes, no path characters), names no command
 * and no existing path is a typo of a command: throws naming the nearest command.
 */
export function checkCommandWord(program: Command, args: string[]): void {
  const word = commandWord(args);
  if (word === undefined) return;
  if (!/^[a-z][a-z0-9-]*$/.test(word)) return;
  // commander adds `help` itself; it is no entry of `commands`.
  const names = ['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])];
  if (names.includes(word) || existsSync(word)) return;
  const hint = nearestName(word, names);
  throw new UnknownCommandError(`unknown command "${word}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
}
