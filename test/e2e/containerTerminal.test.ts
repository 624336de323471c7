import { afterAll, describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { tmuxServer } from '../helpers/tmuxServer.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';

const server = tmuxServer('tsbuild-run-tty');
const { tmux, type } = server;
afterAll(() => server.stop());

const { store } = busyboxContainerRoot({ tmux: 'tmux', runc: 'runc', conmon: 'conmon' });

/**
 * What a shell on a terminal in an 80x24 tmux pane shows: a prompt, a /dev/pts tty, its size and a resize
 * passed on, and ctrl-c interrupting a foreground sleep through the tty driver (status 130).
 */
async function expectTerminal(session: string): Promise<void> {
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
}

describe('run -it in a real terminal (tmux)', () => {
  it('gives a prompt on a /dev/pts terminal; resize, ctrl-c and ctrl-p ctrl-q work; attach comes back', async () => {
    const session = 'tty';
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${store.root} run -it --name shell busybox sh; echo "cli exit $?"; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await expectTerminal(session);
    await type(session, ['C-p', 'C-q'], (s) => s.includes('cli exit 0'));
    expect((await tsbuildOk(['--root', store.root, 'ps'])).stdout).toContain('shell');

    await tmux('respawn-pane', '-k', '-t', session, 'sh', '-c', `${process.execPath} ${TSBUILD_BIN} --root ${store.root} attach shell; echo "attach exit $?"; sleep 600`);
    await type(session, ['echo "back $((6*7))"', 'Enter'], (s) => /^back 42$/m.test(s));
    await type(session, ['exit 5', 'Enter'], (s) => s.includes('attach exit 5'));
    expect((await tsbuildOk(['--root', store.root, 'wait', 'shell'])).stdout).toBe('5\n');

    await tmux('respawn-pane', '-k', '-t', session, 'sh', '-c', `${process.execPath} ${TSBUILD_BIN} --root ${store.root} start -ai shell; echo "start exit $?"; sleep 600`);
    await type(session, ['tty', 'Enter'], (s) => (s.match(/^\/dev\/pts\/\d+$/gm) ?? []).length >= 1);
    await type(session, ['exit 6', 'Enter'], (s) => s.includes('start exit 6'));
    expect((await tsbuildOk(['--root', store.root, 'wait', 'shell'])).stdout).toBe('6\n');
    await tsbuildOk(['--root', store.root, 'rm', 'shell']);
  });

  it('exec -it gives a prompt on its own /dev/pts terminal, resizes pass on, and our terminal comes back cooked', async () => {
    const session = 'exec';
    await tsbuildOk(['--root', store.root, 'run', '-d', '--name', 'host', 'busybox', 'sleep', '600']);
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${store.root} exec -it host sh; echo "exec exit $?"; stty -a | grep -o -- '-\\?icanon'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await expectTerminal(session);
    const after = await type(session, ['exit 7', 'Enter'], (s) => s.includes('exec exit 7') && /^-?icanon$/m.test(s));
    expect(after).toMatch(/^icanon$/m);

    const piped = await tsbuild(['--root', store.root, 'exec', '-t', 'host', 'tty']);
    expect(piped).toMatchObject({ code: 125, stdout: '', stderr: expect.stringContaining('not a TTY') });
    expect(piped.stderr.trim().split('\n')).toHaveLength(1);
    await tsbuildOk(['--root', store.root, 'rm', '-f', 'host']);
  });
});
