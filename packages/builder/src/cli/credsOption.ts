import type { Command } from 'commander';
import type { Credentials } from '@tsbuild/registry';

/** Reads a line from the terminal without echoing it. `noTerminal` says what to do instead when there is none. */
export async function promptHidden(question: string, noTerminal: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new Error(noTerminal);
  // Echo goes off before the prompt appears, so an answer typed at once is never shown.
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = (error: Error | undefined, rest = '') => {
      stdin.off('data', onData);
      // What was typed after Enter belongs to the next prompt.
      if (rest) stdin.unshift(Buffer.from(rest, 'utf8'));
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      for (let i = 0; i < text.length; i++) {
        const ch = text[i]!;
        if (ch === '\r' || ch === '\n') return finish(undefined, text.slice(i + 1).replace(/^\n/, ''));
        if (ch === '\u0003') return finish(new Error('interrupted'));
        if (ch === '\u007f') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * Credentials as skopeo's `--creds USERNAME[:PASSWORD]` gives them; with no
 * password, asks for it on the terminal without echo.
 */
export async function parseCreds(value: string, flag: string): Promise<Credentials> {
  const colon = value.indexOf(':');
  const username = colon < 0 ? value : value.slice(0, colon);
  if (!username) throw new Error(`${flag} needs a user name: ${flag} USERNAME[:PASSWORD]`);
  if (colon >= 0) return { username, password: value.slice(colon + 1) };
  const password = await promptHidden(`Password for ${username} (${flag}): `, `${flag} ${username} gives no password and there is no terminal to ask for it on: use ${flag} ${username}:PASSWORD`);
  return { username, password };
}

/** `--creds` on the commands that talk to one registry. */
export function withCredsOption(cmd: Command): Command {
  return cmd.option('--creds <USERNAME[:PASSWORD]>', 'credentials for the registry, instead of stored ones (asks for the password when missing)');
}
