import { existsSync } from 'node:fs';
import { ToolError } from '@tsbuild/oci-layout';
import { nearestName } from '../nearestName.js';
import { commandNames } from './commandModules.js';
import { USAGE_EXIT_CODE } from './exitStatus.js';

export class UnknownCommandError extends ToolError<'unknown-command'> {
  constructor(message: string) {
    super('unknown-command', message, USAGE_EXIT_CODE);
  }
}

/**
 * `build` is the default command, so `tsbuild imgaes` would read `imgaes/` as a context. A first word
 * that looks like a mistyped command (looksLikeMistypedCommand) and names no existing path is a typo
 * of a command: throws naming the nearest command.
 */
export function checkMistypedCommand(word: string): void {
  if (existsSync(word)) return;
  const hint = nearestName(word, commandNames());
  throw new UnknownCommandError(`unknown command "${word}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
}
