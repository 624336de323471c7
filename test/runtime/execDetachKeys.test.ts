import { afterAll, describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { tmuxServer } from '../helpers/tmuxServer.js';
import { TSBUILD_BIN } from '../helpers/tsbuildCli.js';

const server = tmuxServer('tsbuild-exec-detach');
const { tmux, type } = server;
afterAll(() => server.stop());

const { store, tsOk } = busyboxContainerRoot({ tmux: 'tmux', runc: 'runc', conmon: 'conmon' });

describe('exec -it --detach-keys', () => {
  it('the detach keys leave the exec\'d process running; the CLI exits 0', async () => {
    await tsOk('run', '-d', '--network', 'none', '--name', 'host', 'busybox', 'sleep', '600');
    const session = 'exec';
    const command = `${process.execPath} ${TSBUILD_BIN} --root ${store.root} exec -it --detach-keys ctrl-x,x host sh; echo "exec exit $?"; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await type(session, [], (s) => /^\/ #/m.test(s));
    await type(session, ['echo $$ > /tmp/exec.pid; echo "saved"', 'Enter'], (s) => /^saved$/m.test(s));
    await type(session, ['C-x', 'x'], (s) => s.includes('exec exit 0'));
    const alive = await tsOk('exec', 'host', 'sh', '-c', 'kill -0 "$(cat /tmp/exec.pid)" && echo alive');
    expect(alive.stdout).toBe('alive\n');
  });
});
