import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { analyzeImage, layerListings, type ImageAnalysis } from '@tsbuild/inspect-tui';
import { openDockerArchive, type Image } from '@tsbuild/oci-layout';
import { NameTable } from '../../packages/inspect-tui/src/analysis/columns.js';
import { LayerTree, MARK_CODE, ROOT } from '../../packages/inspect-tui/src/analysis/layerTree.js';
import { openImageSource } from '../../packages/inspect-tui/src/cli/imageSource.js';
import { formatDiveExport } from '../../packages/inspect-tui/src/report/diveJson.js';
import { Explorer } from '../../packages/inspect-tui/src/tui/Explorer.js';
import { ImageTree, type TreeMode } from '../../packages/inspect-tui/src/tui/imageTree.js';
import { SlicedTask } from '../../packages/inspect-tui/src/tui/slicedTask.js';
import { treeShape, TreeView, type ViewOptions } from '../../packages/inspect-tui/src/tui/treeView.js';
import { TreeViews } from '../../packages/inspect-tui/src/tui/treeViews.js';
import { AnalysisProgress } from '../../packages/inspect-tui/src/tui/analysisProgress.js';
import { commandFor, splitKeys } from '../../packages/inspect-tui/src/tui/keys.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { writeDockerArchive } from './dockerArchiveFixture.js';
import { parseBytes } from '../../packages/inspect-tui/src/ci/humanBytes.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';

const dirs = tempDirs();

const KEY = { down: '\x1b[B', up: '\x1b[A', pageDown: '\x1b[6~', tab: '\t', ctrlA: '\x01', ctrlB: '\x02', ctrlE: '\x05', ctrlF: '\x06', ctrlL: '\x0c', ctrlO: '\x0f', ctrlR: '\x12', ctrlU: '\x15', ctrlSpace: '\x00', enter: '\r', esc: '\x1b' };

let analysis: ImageAnalysis;
let image: Image;
beforeAll(async () => {
  const source = await openImageSource(`docker-archive:${DIVE_IMAGE}`);
  image = source.image;
  analysis = await analyzeImage(image, { layerIds: source.layerIds! });
});
afterAll(() => dirs.cleanup());

type Ui = ReturnType<typeof render>;

function open(size = { columns: 120, rows: 40 }, extractDir?: string, what: ImageAnalysis | AnalysisProgress = analysis): Ui {
  return render(<Explorer analysis={what} image={image} size={size} {...(extractDir !== undefined && { extractDir })} />);
}

const frame = (ui: Ui) => (ui.lastFrame() ?? '').replace(/\x1b\[[0-9;]*m/g, '');
/** The file tree pane: the right half of each line. */
const treeOf = (screen: string, columns = 120) => screen.split('\n').map((l) => l.slice(Math.floor(columns / 2) + 1)).join('\n');
const treePane = (ui: Ui) => treeOf(frame(ui));

/** Sends keys one write each (as a person types), then waits until the screen satisfies `until`. */
async function press(ui: Ui, keys: string[], until: (screen: string) => boolean): Promise<string> {
  for (const key of keys) {
    ui.stdin.write(key);
    await new Promise((r) => setImmediate(r));
  }
  await vi.waitFor(() => expect(until(frame(ui)), `after ${JSON.stringify(keys)}:\n${frame(ui)}`).toBe(true), { timeout: 5000, interval: 10 });
  return frame(ui);
}

async function ready(ui: Ui): Promise<void> {
  await vi.waitFor(() => expect(frame(ui)).toContain('Layers'), { timeout: 5000, interval: 10 });
}

describe('the explorer', () => {
  it('shows dive\'s panes and figures', async () => {
    const ui = open();
    await ready(ui);
    const screen = frame(ui);
    for (const text of ['Cmp', 'Size', 'Command', 'Layer Details', 'Image Details', 'Total Image size: 1.2 MB', 'Potential wasted space: 32 kB', 'Image efficiency score: 98 %', '/root/saved.txt', 'Current Layer Contents', 'busybox']) {
      expect(screen).toContain(text);
    }
    expect(screen).toContain(analysis.layers[0]!.diffId.slice(0, 30));
    // Attributes: mode, owner, size (busybox is bin/[; bin/[[ is a hard link to it).
    expect(screen).toMatch(/-rwxr-xr-x +0:0 +1\.1 MB +│ +├── \[ *\n/);
    expect(screen).toMatch(/-rwxr-xr-x +0:0 +0 B +│ +├── \[\[ -> bin\/\[ *\n/);
    expect(screen.split('\n')).toHaveLength(40);
    ui.unmount();
  });

  it('changes the tree with the selected layer', async () => {
    const ui = open();
    await ready(ui);
    expect(treePane(ui)).toContain('busybox');
    const screen = await press(ui, [KEY.down, KEY.down, KEY.down], (s) => treeOf(s).includes('somefile1.txt'));
    expect(treePane(ui)).not.toContain('busybox');
    expect(screen).toContain(analysis.layers[3]!.diffId.slice(0, 30));
    await press(ui, [KEY.up], (s) => !treeOf(s).includes('somefile1.txt'));
    ui.unmount();
  });

  it('shows the first layer while the others are analysed, and follows them as they come', async () => {
    const progress = new AnalysisProgress(layerListings(image, { layerIds: analysis.layers.map((l) => l.id) }));
    progress.layerAnalysed(analysis.layers[0]!);
    // Tall enough for every layer in the layers pane.
    const ui = open({ columns: 120, rows: 60 }, undefined, progress);
    await ready(ui);
    const layersPane = () => frame(ui).split('\n').slice(0, 16).map((l) => l.slice(0, 60)).join('\n');
    const pendingRows = () => layersPane().split('\n').filter((l) => / … {2}/.test(l)).length;
    expect(treePane(ui)).toContain('busybox');
    expect(frame(ui)).toContain(`analysing… 1 of ${analysis.layers.length} layers`);
    expect(frame(ui)).not.toContain('Image efficiency score');
    // Every layer is listed from the start; those still being analysed have no size yet.
    expect(layersPane()).toContain(analysis.layers[5]!.command.slice(0, 20));
    expect(pendingRows()).toBe(analysis.layers.length - 1);

    // Layers other than the selected one show up a little later, drawn together.
    progress.layerAnalysed(analysis.layers[1]!);
    await press(ui, [], (s) => s.includes(`analysing… 2 of ${analysis.layers.length} layers`));
    expect(pendingRows()).toBe(analysis.layers.length - 2);

    // A layer still being analysed: its details without a size, the tree once it arrives.
    let screen = await press(ui, [KEY.down, KEY.down, KEY.down], (s) => s.includes(analysis.layers[3]!.diffId.slice(0, 30)));
    expect(treeOf(screen)).toContain('analysing…');
    expect(screen).toContain('Size:    analysing… (layer 3)');
    for (const layer of analysis.layers.slice(2, 4)) progress.layerAnalysed(layer);
    screen = await press(ui, [], (s) => treeOf(s).includes('somefile1.txt'));
    expect(screen).toContain(`analysing… 4 of ${analysis.layers.length} layers`);
    expect(screen).not.toContain('Size:    analysing…');

    for (const layer of analysis.layers.slice(4)) progress.layerAnalysed(layer);
    progress.finished(analysis);
    screen = await press(ui, [], (s) => s.includes('Image efficiency score: 98 %'));
    expect(screen).not.toContain('analysing…');
    expect(pendingRows()).toBe(0);
    ui.unmount();
  });

  it('narrows the tree with a regex filter, and esc clears it', async () => {
    const ui = open();
    await ready(ui);
    // Aggregated view of the last layer: the whole filesystem.
    await press(ui, [KEY.ctrlA, ...Array(13).fill(KEY.down)], (s) => s.includes('Aggregated Contents') && s.includes('saved.again2'));
    expect(treePane(ui)).toContain('busybox');
    const narrowed = await press(ui, [KEY.ctrlF, ...'saved\\.again'], (s) => s.includes('Path Filter (regex): saved\\.again'));
    const tree = treePane(ui);
    expect(narrowed).toContain('saved.again1.txt');
    expect(tree).toContain('saved.again2');
    expect(tree).not.toContain('busybox');
    expect(tree).not.toContain('somefile');
    await press(ui, ['('], (s) => s.includes('Invalid regular expression'));
    await press(ui, [KEY.esc], (s) => !s.includes('Path Filter'));
    expect(treePane(ui)).toContain('busybox');
    ui.unmount();
  });

  it('hides added, modified and removed paths with the tree toggles', async () => {
    const ui = open();
    await ready(ui);
    // Layer 3 adds somefile1.txt; layer 4 (chmod 444) modifies it; layer 9 removes /root/example.
    await press(ui, [KEY.down, KEY.down, KEY.down, KEY.tab], (s) => s.includes('▶ Current Layer Contents') && treeOf(s).includes('somefile1.txt'));
    await press(ui, [KEY.ctrlA], (s) => s.includes('hiding added') && !treeOf(s).includes('somefile1.txt'));
    await press(ui, [KEY.ctrlA], (s) => !s.includes('hiding') && treeOf(s).includes('somefile1.txt'));
    await press(ui, [KEY.tab, KEY.down, KEY.tab], (s) => s.includes('chmod 444') && s.includes('▶ Current Layer Contents'));
    expect(treePane(ui)).toContain('somefile1.txt');
    await press(ui, [KEY.enter], (s) => s.includes('hiding modified') && !treeOf(s).includes('somefile1.txt'));
    await press(ui, [KEY.enter, KEY.tab, ...Array(5).fill(KEY.down), KEY.tab], (s) => s.includes('rm -rf /root/example/') && s.includes('▶ Current') && treeOf(s).includes('somefile2.txt'));
    await press(ui, [KEY.ctrlR], (s) => s.includes('hiding removed') && !treeOf(s).includes('somefile2.txt'));
    await press(ui, [KEY.ctrlR, KEY.ctrlU], (s) => s.includes('hiding unmodified') && treeOf(s).includes('somefile2.txt'));
    ui.unmount();
  });

  it('collapses a directory, collapses all, and sorts by size', async () => {
    const ui = open();
    await ready(ui);
    await press(ui, [KEY.tab], (s) => s.includes('▶ Current Layer Contents'));
    await press(ui, [' '], (s) => s.includes('⊕ bin') && !s.includes('busybox'));
    await press(ui, [' '], (s) => !s.includes('⊕ bin') && s.includes('busybox'));
    // The whole image, top-level directories only.
    await press(ui, [KEY.tab, KEY.ctrlA, ...Array(13).fill(KEY.down), KEY.tab], (s) => s.includes('▶ Aggregated Contents') && s.includes('saved.again2'));
    const collapsed = await press(ui, [KEY.ctrlSpace], (s) => s.includes('⊕ bin') && s.includes('⊕ root'));
    const topLevel = (screen: string) => [...screen.matchAll(/(\d+(?:\.\d)? [kM]?B) +[├└]── ⊕ (\w+)/g)].map((m) => ({ size: parseBytes(m[1]!.replace(' ', ''))!, name: m[2]! }));
    const byName = topLevel(collapsed);
    expect(byName.map((d) => d.name)).toEqual(byName.map((d) => d.name).sort());
    expect(byName.length).toBeGreaterThan(3);
    const sorted = await press(ui, [KEY.ctrlO], (s) => s.includes('(by size)'));
    const bySize = topLevel(sorted);
    expect(bySize.map((d) => d.size)).toEqual(bySize.map((d) => d.size).sort((a, b) => b - a));
    expect(bySize.map((d) => d.name)).not.toEqual(byName.map((d) => d.name));
    expect(bySize.map((d) => d.name).sort()).toEqual(byName.map((d) => d.name));
    await press(ui, [KEY.ctrlB], (s) => !s.includes('Permission'));
    ui.unmount();
  });

  it('shows a file from the selected layer in the pager, and extracts it', async () => {
    const dir = await dirs.make('tsdive-extract-');
    const ui = open({ columns: 120, rows: 40 }, dir);
    await ready(ui);
    // Layer 1 is `ADD somefile.txt /`: its only file.
    await press(ui, [KEY.down, KEY.tab, KEY.ctrlU], (s) => s.includes('hiding unmodified') && treeOf(s).includes('somefile.txt'));
    const expected = (await promisify(execFile)('sh', ['-c', `tar -xOf '${DIVE_IMAGE}' '${analysis.layers[1]!.id}/layer.tar' | tar -xO somefile.txt`], { maxBuffer: 1 << 24 })).stdout;
    const firstLine = expected.split('\n')[0]!.slice(0, 40);
    await press(ui, ['v'], (s) => s.includes('/somefile.txt (layer 1)') && s.includes(firstLine));
    await press(ui, ['q'], (s) => s.includes('Layer Details'));
    await press(ui, [KEY.ctrlE], (s) => s.includes('extracted /somefile.txt'));
    expect(await readFile(join(dir, 'somefile.txt'), 'utf8')).toBe(expected);
    await press(ui, [KEY.ctrlE], (s) => s.includes('exists already'));
    ui.unmount();
  });

  it('shows a hard link\'s content from its target, binary as a hex dump', async () => {
    const ui = open();
    await ready(ui);
    // Layer 0: bin, then bin/[ (busybox), then bin/[[, a hard link to it.
    await press(ui, [KEY.tab, KEY.down, KEY.down, 'v'], (s) => s.includes('/bin/[[ (hard link to /bin/[) (layer 0)') && s.includes('00000000  7f 45 4c 46'));
    expect(frame(ui)).toMatch(/binary: hex dump/);
    await press(ui, [KEY.esc], (s) => s.includes('Layer Details'));
    await press(ui, [KEY.up, KEY.up, 'v'], (s) => s.includes('/bin is a directory, not a regular file'));
    ui.unmount();
  });

  it('shows the keys on ? and closes them on any key', async () => {
    const ui = open();
    await ready(ui);
    await press(ui, ['?'], (s) => s.includes('ctrl+space') && s.includes('collapse/expand all directories'));
    await press(ui, ['x'], (s) => s.includes('Layer Details'));
    ui.unmount();
  });

  it('fits an 80x24 screen', async () => {
    const ui = open({ columns: 80, rows: 24 });
    await ready(ui);
    const lines = frame(ui).split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(frame(ui)).toContain('Image efficiency score');
    ui.unmount();
  });
});

/** One layer of `count` files in 1000 directories, built as the analysis builds its trees. */
function bigAnalysis(count: number): ImageAnalysis {
  const names = new NameTable();
  const tree = new LayerTree(names);
  const entry = (path: string, type: 'file' | 'directory', size: number) => ({ path, type, size, mode: type === 'file' ? 0o644 : 0o755, uid: 0, gid: 0, mtime: 0 });
  for (let i = 0; i < count; i++) {
    const dirName = `d${String(i % 1000).padStart(4, '0')}`;
    const dir = tree.childOrNew(ROOT, names.intern(dirName));
    tree.setEntry(dir, entry(dirName, 'directory', 0));
    const name = `f${String(i).padStart(6, '0')}`;
    tree.setEntry(tree.childOrNew(dir, names.intern(name)), entry(`${dirName}/${name}`, 'file', i), 'hash' + String(i % 10000).padStart(4, '0'));
  }
  tree.computeOrder();
  for (const id of tree.order) tree.change[id] = MARK_CODE.added;
  tree.seal();
  const layer = { index: 0, id: 'big', digest: 'sha256:' + '0'.repeat(64), diffId: 'sha256:' + '1'.repeat(64), sizeBytes: 0, command: 'generated', tree, removedBelow: [] };
  return { layers: [layer], sizeBytes: 0, userSizeBytes: 0, efficiencyScore: 1, wastedBytes: 0, userWastedPercent: 0, inefficientFiles: [] };
}

describe('a tree of 100,000 paths', () => {
  it('renders only the rows that fit and scrolls through them', async () => {
    const big = bigAnalysis(100_000);
    const ui = open({ columns: 80, rows: 24 }, undefined, big);
    await vi.waitFor(() => expect(frame(ui)).toContain('d0000'), { timeout: 30_000, interval: 20 });
    expect(frame(ui).split('\n')).toHaveLength(24);
    await press(ui, [KEY.tab, ...Array(5).fill(KEY.pageDown)], (s) => !s.includes('d0000') && /f\d{6}/.test(s));
    expect(frame(ui).split('\n')).toHaveLength(24);
    // 23 lines below the layers' title and header leave 21 tree rows: five pages down is row 105
    // (d0000, its 100 files, d0001, then f000001...), at the bottom of the screen.
    const lines = frame(ui).split('\n');
    expect(lines[2]).toContain('f084000');
    expect(lines[22]).toContain('f003001');
    await press(ui, [KEY.ctrlSpace], (s) => s.includes('⊕ d0000'));
    ui.unmount();
  });
});

describe('keys', () => {
  it('splits a run of bytes (fast typing, a paste, tmux send-keys) into one key each', () => {
    const none = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };
    const keys = splitKeys('\t\x01\x06sQ\r\x00', none);
    expect(keys.map(([input, key]) => [input, key.ctrl, key.tab, key.return, key.shift])).toEqual([
      ['', false, true, false, false],
      ['a', true, false, false, false],
      ['f', true, false, false, false],
      ['s', false, false, false, false],
      ['Q', false, false, false, true],
      ['', false, false, true, false],
      ['`', true, false, false, false],
    ]);
    // As dive: ctrl+a means the aggregated view in the layers pane and "hide added" in the tree.
    expect(commandFor('a', { ...none, ctrl: true }, 'layers')).toEqual({ kind: 'mode', mode: 'aggregated' });
    expect(commandFor('a', { ...none, ctrl: true }, 'tree')).toEqual({ kind: 'toggle-mark', mark: 'added' });
    expect(commandFor('`', { ...none, ctrl: true }, 'tree')).toEqual({ kind: 'collapse-all' });
    expect(commandFor('', { ...none, return: true }, 'tree')).toEqual({ kind: 'toggle-mark', mark: 'modified' });
  });
});

describe('the trees the explorer shows', () => {
  const options = (layer: number, mode: TreeMode, view: Partial<ViewOptions> = {}): ViewOptions =>
    ({ layer, mode, hidden: new Set(), collapsed: new Set(), sort: 'name', ...view });
  const viewOf = (tree: ImageTree, layer: number, mode: TreeMode, view: Partial<ViewOptions> = {}) =>
    new TreeView(tree, options(layer, mode, view), treeShape(tree, layer, mode));
  const allRows = (view: TreeView) => view.rows(0, view.count);
  let tree: ImageTree;
  beforeAll(() => {
    tree = ImageTree.of(analysis.layers);
  });
  const find = (layer: number, mode: TreeMode, path: string) => allRows(viewOf(tree, layer, mode)).find((r) => r.node.path === path)?.node;

  it('marks a layer\'s own changes, and the image up to a layer against its first layer', () => {
    expect(find(3, 'layer', 'root/example/somefile1.txt')?.change).toBe('added');
    expect(find(4, 'layer', 'root/example/somefile1.txt')?.change).toBe('modified');
    // Added in layer 3 and only chmodded since: still an addition to the base.
    expect(find(4, 'aggregated', 'root/example/somefile1.txt')?.change).toBe('added');
    expect(find(4, 'aggregated', 'bin/busybox')?.change).toBe('unmodified');
    expect(find(9, 'layer', 'root/example/somefile2.txt')?.change).toBe('removed');
    // Added and removed again above the base: not in the aggregated view at all.
    expect(find(9, 'aggregated', 'root/example')).toBeUndefined();
    // Layers 7 and 13 write /root/saved.txt (the inefficient files say `+7 +13`): content comes from the latest.
    expect(find(12, 'aggregated', 'root/saved.txt')?.layerIndex).toBe(7);
    expect(find(13, 'aggregated', 'root/saved.txt')?.layerIndex).toBe(13);
    expect(find(13, 'aggregated', 'root/saved.txt')?.size).toBe(6405);
    expect(find(13, 'aggregated', 'tmp')?.size).toBe(6405);
  });

  it('keeps the parents of what shows and drops what the toggles hide', () => {
    const paths = (view: Partial<ViewOptions>) => allRows(viewOf(tree, 13, 'aggregated', view)).map((r) => r.node.path);
    expect(paths({ filter: /again2/ })).toEqual(['root', 'root/.data', 'root/.data/saved.again2.txt']);
    expect(paths({ hidden: new Set(['unmodified']) })).not.toContain('bin/busybox');
    expect(paths({ hidden: new Set(['added']) })).not.toContain('tmp/saved.again1.txt');
    expect(paths({ collapsed: new Set(['bin']) })).not.toContain('bin/busybox');
    expect(paths({ collapsed: new Set(['bin']) })).toContain('bin');
  });

  it('makes rows for a slice of the tree that are the rows of the whole tree', () => {
    const view = viewOf(tree, 13, 'aggregated');
    const rows = allRows(view);
    expect(view.rows(5, 9)).toEqual(rows.slice(5, 9));
    expect(view.row(rows.length - 1)).toEqual(rows.at(-1));
    expect(rows.at(-1)!.guide).toMatch(/└── $/);
    expect(view.row(rows.length)).toBeUndefined();
  });

  it('shows a layer the same from a tree of the layers up to it as from the whole image\'s', () => {
    for (const layer of [0, 4, 9]) {
      const upTo = ImageTree.of(analysis.layers.slice(0, layer + 1));
      for (const mode of ['layer', 'aggregated'] as const) {
        for (const view of [{}, { sort: 'size' as const }, { hidden: new Set(['unmodified'] as const) }]) {
          expect(allRows(viewOf(upTo, layer, mode, view))).toEqual(allRows(viewOf(tree, layer, mode, view)));
        }
      }
    }
  });

  it('adds the layers a view needs at once when the background has not added them yet', () => {
    const views = new TreeViews(AnalysisProgress.of(analysis));
    const rows = allRows(views.view(options(3, 'layer'))!);
    expect(rows.map((r) => r.node.path)).toEqual(allRows(viewOf(tree, 3, 'layer')).map((r) => r.node.path));
    expect(rows.map((r) => r.node.path)).toContain('root/example/somefile1.txt');
  });
});

describe('work in slices', () => {
  function* countTo(n: number, counter: { value: number }): Generator<void, void> {
    while (counter.value < n) {
      counter.value++;
      yield;
    }
  }

  it('runs between other work until done, or as far as needed at once', async () => {
    const background = { value: 0 };
    const task = new SlicedTask(countTo(100_000, background), 1);
    task.start();
    expect(background.value).toBe(0);
    await vi.waitFor(() => expect(task.done).toBe(true), { timeout: 10_000, interval: 5 });
    expect(background.value).toBe(100_000);

    const hurried = { value: 0 };
    const other = new SlicedTask(countTo(100_000, hurried), 1);
    other.runUntil(() => hurried.value >= 500);
    expect(hurried.value).toBe(500);
    other.start();
    other.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(hurried.value).toBe(500);
  });
});

describe('a path thousands of levels deep', () => {
  it('reads, marks, reports and explores it', async () => {
    const deep = `${'d/'.repeat(3000)}f`;
    const file = join(await dirs.make(), 'deep.tar');
    await writeDockerArchive(file, [
      { createdBy: 'deep', entries: [{ name: deep, content: 'deep' }] },
      { createdBy: 'again', entries: [{ name: deep, content: 'changed' }, { name: '.wh.d' }] },
    ]);
    const a = await analyzeImage(await openDockerArchive(file));
    expect(a.inefficientFiles.map((f) => [f.path, f.count])).toEqual([[`/${deep}`, 2]]);
    const doc = JSON.parse(formatDiveExport(a));
    expect(doc.layer[0].fileList[0].path).toBe(deep);
    const tree = ImageTree.of(a.layers);
    expect(tree.path[tree.size - 1]).toBe(deep);
    expect(tree.version(tree.size - 1, 1, 'layer', () => undefined).change).toBe('modified');
  });
});
