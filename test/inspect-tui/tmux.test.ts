import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSDIVE = join(REPO, 'packages/inspect-tui/bin/tsdive.js');
const DIVE_IMAGE = join(REPO, '..', 'shared', 'fixtures', 'dive', 'test-docker-image.tar');
/** A server of our own, so the test never touches anyone's tmux sessions. */
const SOCKET = `tsdive-test-${process.pid}`;
const COLUMNS = 120;
const dirs = tempDirs();

const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);
const screen = async (session: string) => (await tmux('capture-pane', '-p', '-t', session)).stdout;
/** The file tree pane: the right half of the screen. */
const treeOf = (text: string) => text.split('\n').map((l) => [...l].slice(COLUMNS / 2 + 1).join('')).join('\n');

/** Sends tmux key names, then polls the screen until `until` holds (bounded, no fixed sleeps). */
async function keys(session: string, names: string[], until: (text: string) => boolean): Promise<string> {
  for (const name of names) await tmux('send-keys', '-t', session, name);
  let last = '';
  await vi.waitFor(
    async () => {
      last = await screen(session);
      expect(until(last), `after ${names.join(' ')}:\n${last}`).toBe(true);
    },
    { timeout: 15_000, interval: 50 },
  );
  return last;
}

beforeAll(async () => {
  await requireTools({ tmux: 'tmux' });
  await new Promise<void>((resolve, reject) =>
    execFile('npx', ['tsc', '-b', 'packages/inspect-tui'], { cwd: REPO }, (e, out) => (e ? reject(new Error(`tsc failed:\n${out}`)) : resolve())),
  );
}, 300_000);
afterAll(async () => {
  await tmux('kill-server').catch(() => undefined);
  await dirs.cleanup();
});

describe('tsdive in a real terminal (tmux)', () => {
  it('selects layers, filters, toggles marks, and quits with q and exit code 0', async () => {
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    const session = 'explore';
    const command = `node '${TSDIVE}' 'docker-archive:${DIVE_IMAGE}'; echo EXIT=$? > '${exitFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', String(COLUMNS), '-y', '40', 'sh', '-c', command);

    const first = await keys(session, [], (t) => t.includes('Layer Details') && treeOf(t).includes('busybox'));
    expect(first).toContain('Image efficiency score: 98 %');
    expect(first).toContain('Potential wasted space: 32 kB');

    // Layer selection changes the tree: layer 3 copies somefile1.txt.
    await keys(session, ['Down', 'Down', 'Down'], (t) => treeOf(t).includes('somefile1.txt') && !treeOf(t).includes('busybox'));

    // The aggregated view of the last layer holds everything; the filter narrows it.
    await keys(session, ['C-a', 'End'], (t) => t.includes('(layer 13)') && t.includes('Aggregated Contents') && treeOf(t).includes('busybox'));
    await keys(session, ['C-f'], (t) => t.includes('Path Filter'));
    await tmux('send-keys', '-t', session, '-l', 'again');
    const filtered = treeOf(await keys(session, [], (t) => t.includes('Path Filter (regex): again')));
    expect(filtered).toContain('saved.again1.txt');
    expect(filtered).toContain('saved.again2');
    expect(filtered).not.toContain('busybox');
    await keys(session, ['Escape'], (t) => !t.includes('Path Filter') && treeOf(t).includes('busybox'));

    // Toggles hide marks. Kept filter: the files copied above the base ("added") and busybox (unmodified).
    await keys(session, ['C-f'], (t) => t.includes('Path Filter'));
    await tmux('send-keys', '-t', session, '-l', 'saved|busybox');
    await keys(session, ['Enter', 'Tab'], (t) => t.includes('▶ Aggregated Contents') && t.includes('Path Filter (regex): saved|busybox'));
    const both = treeOf(await screen(session));
    expect(both).toContain('saved.again1.txt');
    expect(both).toContain('busybox');
    await keys(session, ['C-a'], (t) => t.includes('hiding added') && !treeOf(t).includes('saved.again1.txt') && treeOf(t).includes('busybox'));
    await keys(session, ['C-u'], (t) => t.includes('hiding added unmodified') && !treeOf(t).includes('busybox'));
    await keys(session, ['C-a', 'C-u'], (t) => !t.includes('hiding') && treeOf(t).includes('saved.again1.txt') && treeOf(t).includes('busybox'));

    await tmux('send-keys', '-t', session, 'q');
    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=0\n'), { timeout: 15_000, interval: 50 });
  });
});
