import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { tmuxServer } from '../helpers/tmuxServer.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';
import { TSDIVE_BIN } from '../helpers/tsbuildCli.js';

const TSDIVE = TSDIVE_BIN;
const COLUMNS = 120;
/** A person at a terminal: CI=true (as CI runs us) would switch tsdive to its CI mode, as it does dive. */
const INTERACTIVE = 'env -u CI';
const dirs = tempDirs();

const server = tmuxServer('tsdive-test');
const { tmux, screen } = server;
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
}, 300_000);
afterAll(async () => {
  await server.stop();
  await dirs.cleanup();
});

describe('tsdive in a real terminal (tmux)', () => {
  it('selects layers, filters, toggles marks, and quits with q and exit code 0', async () => {
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    const session = 'explore';
    const command = `${INTERACTIVE} node '${TSDIVE}' 'docker-archive:${DIVE_IMAGE}'; echo EXIT=$? > '${exitFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', String(COLUMNS), '-y', '40', 'sh', '-c', command);

    // The image's figures come once every layer is analysed, after the first screen.
    const first = await keys(session, [], (t) => t.includes('Layer Details') && treeOf(t).includes('busybox') && t.includes('Image efficiency score'));
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

    // A resize redraws the whole layout at the new size; 80x24 still holds every pane.
    await tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
    const small = await keys(session, [], (t) => {
      const lines = t.replace(/\n$/, '').split('\n');
      return lines.length === 24 && lines[0]!.includes('─ Layers') && lines[0]!.includes('▶ Aggregated Contents') && lines.every((l) => [...l].length <= 80);
    });
    for (const text of ['Layer Details', 'Image Details', 'Image efficiency score: 98 %', 'Path Filter (regex): saved|busybox', '? Help  ^C/q Quit']) expect(small).toContain(text);

    await tmux('send-keys', '-t', session, 'q');
    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=0\n'), { timeout: 15_000, interval: 50 });
  });

  it('quits on ctrl+c with exit code 0, also while the filter is open', async () => {
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    const session = 'interrupt';
    const command = `${INTERACTIVE} node '${TSDIVE}' 'docker-archive:${DIVE_IMAGE}'; echo EXIT=$? > '${exitFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', 'sh', '-c', command);
    await keys(session, [], (t) => t.includes('Layer Details'));
    await keys(session, ['C-f'], (t) => t.includes('Path Filter (regex): █'));
    await tmux('send-keys', '-t', session, 'C-c');
    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=0\n'), { timeout: 15_000, interval: 50 });
  });

  it('writes what TSDIVE_TIMING asks for: when the first frame was up, and how long each key took to show', async () => {
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    const timingFile = join(dir, 'timing.jsonl');
    const session = 'timing';
    const command = `${INTERACTIVE} TSDIVE_TIMING='${timingFile}' node '${TSDIVE}' 'docker-archive:${DIVE_IMAGE}'; echo EXIT=$? > '${exitFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', String(COLUMNS), '-y', '40', 'sh', '-c', command);
    await keys(session, [], (t) => t.includes('Layer Details') && treeOf(t).includes('busybox'));
    const events = async () => (await readFile(timingFile, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    // The line is appended just after the frame is on screen, so it may trail the screen a little.
    await vi.waitFor(async () => expect(await events()).not.toHaveLength(0), { timeout: 15_000, interval: 50 });
    const [first] = await events();
    // Which figures the file carries; how large they are is for `npm run bench` to judge.
    expect(first).toMatchObject({ event: 'first-frame', at: expect.any(Number), sinceStartMs: expect.any(Number), cpuMs: expect.any(Number), maxRssKb: expect.any(Number) });

    await keys(session, ['Down'], (t) => treeOf(t).includes('somefile.txt'));
    await keys(session, ['Tab'], (t) => t.includes('▶ Current Layer Contents'));
    await vi.waitFor(async () => expect((await events()).filter((e) => e.event === 'key')).toHaveLength(2), { timeout: 15_000, interval: 50 });
    const [down, tab] = (await events()).filter((e) => e.event === 'key');
    expect(down).toMatchObject({ key: 'down', pane: 'layers', mode: 'layer' });
    expect(tab).toMatchObject({ key: 'tab', pane: 'layers' });
    for (const key of [down!, tab!]) expect(key).toMatchObject({ receivedAt: expect.any(Number), renderedAt: expect.any(Number), ms: expect.any(Number) });

    await tmux('send-keys', '-t', session, 'q');
    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=0\n'), { timeout: 15_000, interval: 50 });
  });

  it('ends with one clear line and exit code 2 when a later layer turns out truncated, the terminal restored', async () => {
    await requireTools({ skopeo: 'skopeo' });
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    const sttyFile = join(dir, 'stty');
    const layout = join(dir, 'layout');
    await run('skopeo', ['copy', '-q', `docker-archive:${DIVE_IMAGE}`, `oci:${layout}:dive-test`]);
    // Layer 1's blob becomes a pipe: its bytes come only once the explorer is up, and only half of them.
    const blobPath = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(blobPath(index.manifests[0]!.digest), 'utf8')) as { layers: { digest: string }[] };
    const layer1 = blobPath(manifest.layers[1]!.digest);
    const blob = await readFile(layer1);
    await rm(layer1);
    await run('mkfifo', [layer1]);
    const session = 'truncated';
    const command = `${INTERACTIVE} node '${TSDIVE}' 'oci:${layout}:dive-test'; echo EXIT=$? > '${exitFile}'; stty -a > '${sttyFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', String(COLUMNS), '-y', '40', 'sh', '-c', command);
    const first = await keys(session, [], (t) => t.includes('Layer Details') && treeOf(t).includes('busybox'));
    expect(first).toContain('analysing… 1 of 14 layers');
    await writeFile(layer1, blob.subarray(0, blob.length / 2));

    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=2\n'), { timeout: 15_000, interval: 50 });
    const shown = await screen(session);
    expect(shown).not.toContain('Layer Details');
    const errors = shown.split('\n').filter((line) => line.startsWith('tsdive: layer'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^tsdive: layer 1 \(sha256:[0-9a-f]+\): /);
    expect(shown).not.toMatch(/\n\s+at /);
    await vi.waitFor(async () => expect(await readFile(sttyFile, 'utf8')).toMatch(/(^|\s)icanon\s/), { timeout: 15_000, interval: 50 });
  });

  it('builds with tsbuild, then opens the explorer on what it built', async () => {
    const dir = await dirs.make('tsdive-tmux-');
    const exitFile = join(dir, 'exit');
    await mkdir(join(dir, 'context', 'app'), { recursive: true });
    await writeFile(join(dir, 'context', 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
    await writeFile(join(dir, 'context', 'app', 'hello.txt'), 'hello from tsdive build\n');
    const session = 'build';
    const command = `${INTERACTIVE} node '${TSDIVE}' build --root '${join(dir, 'store')}' -t built '${join(dir, 'context')}'; echo EXIT=$? > '${exitFile}'; sleep 600`;
    await tmux('new-session', '-d', '-s', session, '-x', String(COLUMNS), '-y', '40', 'sh', '-c', command);
    const shown = await keys(session, [], (t) => t.includes('Layer Details') && treeOf(t).includes('hello.txt'));
    expect(shown).toContain('COPY app /app');
    await keys(session, ['Tab', 'End', 'v'], (t) => t.includes('hello from tsdive build'));
    await keys(session, ['q'], (t) => t.includes('Layer Details'));
    await tmux('send-keys', '-t', session, 'q');
    await vi.waitFor(async () => expect(await readFile(exitFile, 'utf8')).toBe('EXIT=0\n'), { timeout: 15_000, interval: 50 });
  });
});
