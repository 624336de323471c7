import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { cliOnRoot, removeAllContainers } from '../helpers/containerRoot.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { TSBUILD_BIN } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let root: string;
/** A tmux server of our own, so the test never touches anyone's sessions. */
const SOCKET = `tsbuild-exec-detach-${process.pid}`;
const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);
const screen = async (session: string) => (await tmux('capture-pane', '-p', '-t', session)).stdout;

/** Types `keys` (tmux key names), then polls the screen until `until` holds (bounded, no fixed sleeps). */
async function type(session: string, keys: string[], until: (s: string) => boolean): Promise<string> {
  await tmux('send-keys', '-t', session, ...keys);
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
  try {
    await tmux('kill-server');
  } catch (e) {
    // No session left to kill: the server is gone already.
    if (!/no server running|error connecting/.test(String((e as { stderr?: string }).stderr ?? e))) throw e;
  }
  await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
  await removeAllContainers(root);
  await dirs.cleanup();
});

const { tsOk } = cliOnRoot(() => root);

describe('exec -it --detach-keys', () => {
  it('the detach keys leave the exec\'d process running; the CLI exits 0', async () => {
    await tsOk('run', '-d', '--network', 'none', '--name', 'host', 'busybox', 'sleep', '600');
    const session = 'exec';
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${root} exec -it --detach-keys ctrl-x,x host sh; echo "exec exit $?"; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await type(session, [], (s) => /^\/ #/m.test(s));
    await type(session, ['echo $$ > /tmp/exec.pid; echo "saved"', 'Enter'], (s) => /^saved$/m.test(s));
    await type(session, ['C-x', 'x'], (s) => s.includes('exec exit 0'));
    const alive = await tsOk('exec', 'host', 'sh', '-c', 'kill -0 "$(cat /tmp/exec.pid)" && echo alive');
    expect(alive.stdout).toBe('alive\n');
  });
});
