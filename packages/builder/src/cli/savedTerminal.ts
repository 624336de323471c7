import { spawn } from 'node:child_process';
import { isatty } from 'node:tty';

/** Runs stty on our terminal (its stdin is ours), resolving with what it printed. */
function stty(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('stty', args, { stdio: ['inherit', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`stty ${args.join(' ')} failed with ${code}`))));
  });
}

/**
 * Our terminal's settings, saved before a child (runc) puts it in raw mode
 * and restored after, whichever way the child ended. Not a terminal: nothing to do.
 */
export class SavedTerminal {
  private constructor(private readonly settings: string) {}

  static async save(): Promise<SavedTerminal | undefined> {
    if (!isatty(0)) return undefined;
    return new SavedTerminal(await stty(['-g']));
  }

  async restore(): Promise<void> {
    await stty([this.settings]);
  }
}
