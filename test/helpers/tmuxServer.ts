import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './tools.js';

/** A tmux server of our own (its own socket), so a test never touches anyone's sessions. */
export function tmuxServer(name: string) {
  const socket = `${name}-${process.pid}`;
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args]);
  const screen = async (session: string) => (await tmux('capture-pane', '-p', '-t', session)).stdout;
  return {
    tmux,
    screen,
    /** Types `keys` (tmux key names; `-l` text when literal), then polls the screen until `until` holds (bounded, no fixed sleeps). */
    async type(session: string, keys: string[], until: (s: string) => boolean, literal = false): Promise<string> {
      await tmux('send-keys', '-t', session, ...(literal ? ['-l'] : []), ...keys);
      for (let i = 0; i < 300; i++) {
        const s = await screen(session);
        if (until(s)) return s;
        await sleep(100);
      }
      throw new Error(`the screen never showed what was expected:\n${await screen(session)}`);
    },
    /** Ends the server (if it still runs) and removes the socket file tmux leaves behind. */
    async stop(): Promise<void> {
      try {
        await tmux('kill-server');
      } catch (e) {
        if (!/no server running|error connecting/.test(String((e as { stderr?: string }).stderr ?? e))) throw e;
      }
      await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
    },
  };
}
