import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools, run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
/** A tmux server of our own, so the test never touches anyone's sessions. */
const SOCKET = `tsbuild-run-tty-${process.pid}`;
const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);
const screen = async (session: string) => (await tmux('capture-pane', '-p', '-t', session)).stdout;

/** Types `keys` (tmux key names; `-l` text when literal), then polls the screen until `until` holds (bounded, no fixed sleeps). */
async function type(session: string, keys: string[], until: (s: string) => boolean, literal = false): Promise<string> {
  await tmux('send-keys', '-t', session, ...(literal ? ['-l'] : []), ...keys);
  for (let i = 0; i < 300; i++) {
    const s = await screen(session);
    if (until(s)) return s;
    await sleep(100);
  }
  throw new Error(`the screen never showed what was expected:\n${await screen(session)}`);
}

beforeAll(async () => {
  await requireTools({ tmux: 'tmux', runc: 'runc', conmon: 'conmon' });
  root = await dirs.make();
  await importBusybox(root);
});
afterAll(async () => {
  await tmux('kill-server').catch(() => undefined);
  await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
  const ids = (await tsbuild(['--root', root, 'ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await tsbuild(['--root', root, 'rm', '-f', ...ids]);
  await dirs.cleanup();
});

describe('run -it in a real terminal (tmux)', () => {
  it('gives a prompt on a /dev/pts terminal; resize, ctrl-c and ctrl-p ctrl-q work; attach comes back', async () => {
    const session = 'tty';
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${root} run -it --name shell busybox sh; echo "cli exit $?"; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await type(session, [], (s) => /^\/ #/m.test(s));
    await type(session, ['tty', 'Enter'], (s) => /^\/dev\/pts\/\d+$/m.test(s));
    await type(session, ['busybox stty size', 'Enter'], (s) => /^24 80$/m.test(s));
    await tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
    // The shell redraws its line on SIGWINCH (and asks the terminal where the cursor is): let that settle first.
    await type(session, ['Enter'], (s) => (s.match(/^\/ #/gm) ?? []).length >= 4);
    await type(session, ['busybox stty size', 'Enter'], (s) => /^30 100$/m.test(s));
    await type(session, ['sleep 600', 'Enter'], (s) => s.includes('sleep 600'));
    await type(session, ['C-c'], (s) => /\^C/.test(s));
    await type(session, ['echo "status $?"', 'Enter'], (s) => /^status 130$/m.test(s));
    await type(session, ['C-p', 'C-q'], (s) => s.includes('cli exit 0'));
    expect((await tsbuildOk(['--root', root, 'ps'])).stdout).toContain('shell');

    await tmux('respawn-pane', '-k', '-t', session, 'sh', '-c', `${process.execPath} ${TSBUILD_BIN} --root ${root} attach shell; echo "attach exit $?"; sleep 600`);
    await type(session, ['echo "back $((6*7))"', 'Enter'], (s) => /^back 42$/m.test(s));
    await type(session, ['exit 5', 'Enter'], (s) => s.includes('attach exit 5'));
    expect((await tsbuildOk(['--root', root, 'wait', 'shell'])).stdout).toBe('5\n');

    await tmux('respawn-pane', '-k', '-t', session, 'sh', '-c', `${process.execPath} ${TSBUILD_BIN} --root ${root} start -ai shell; echo "start exit $?"; sleep 600`);
    await type(session, ['tty', 'Enter'], (s) => (s.match(/^\/dev\/pts\/\d+$/gm) ?? []).length >= 1);
    await type(session, ['exit 6', 'Enter'], (s) => s.includes('start exit 6'));
    expect((await tsbuildOk(['--root', root, 'wait', 'shell'])).stdout).toBe('6\n');
    await tsbuildOk(['--root', root, 'rm', 'shell']);
  });

  it('exec -it gives a prompt on its own /dev/pts terminal, resizes pass on, and our terminal comes back cooked', async () => {
    const session = 'exec';
    await tsbuildOk(['--root', root, 'run', '-d', '--name', 'host', 'busybox', 'sleep', '600']);
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${root} exec -it host sh; echo "exec exit $?"; stty -a | grep -o -- '-\\?icanon'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await type(session, [], (s) => /^\/ #/m.test(s));
    await type(session, ['tty', 'Enter'], (s) => /^\/dev\/pts\/\d+$/m.test(s));
    await type(session, ['busybox stty size', 'Enter'], (s) => /^24 80$/m.test(s));
    await tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
    await type(session, ['Enter'], (s) => (s.match(/^\/ #/gm) ?? []).length >= 4);
    await type(session, ['busybox stty size', 'Enter'], (s) => /^30 100$/m.test(s));
    await type(session, ['sleep 600', 'Enter'], (s) => s.includes('sleep 600'));
    await type(session, ['C-c'], (s) => /\^C/.test(s));
    await type(session, ['echo "status $?"', 'Enter'], (s) => /^status 130$/m.test(s));
    const after = await type(session, ['exit 7', 'Enter'], (s) => s.includes('exec exit 7') && /^-?icanon$/m.test(s));
    expect(after).toMatch(/^icanon$/m);

    const piped = await tsbuild(['--root', root, 'exec', '-t', 'host', 'tty']);
    expect(piped).toMatchObject({ code: 125, stdout: '', stderr: expect.stringContaining('not a TTY') });
    expect(piped.stderr.trim().split('\n')).toHaveLength(1);
    await tsbuildOk(['--root', root, 'rm', '-f', 'host']);
  });
});
