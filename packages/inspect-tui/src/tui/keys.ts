import type { Key } from 'ink';
import type { ChangeMark } from '../analysis/fileInfo.js';

export type Pane = 'layers' | 'tree';

/** What a key asks the explorer to do. */
export type Command =
  | { kind: 'quit' }
  | { kind: 'next-pane' }
  | { kind: 'open-filter' }
  | { kind: 'help' }
  | { kind: 'move'; by: number }
  | { kind: 'page'; by: number }
  | { kind: 'mode'; mode: 'layer' | 'aggregated' }
  | { kind: 'collapse' }
  | { kind: 'collapse-all' }
  | { kind: 'toggle-mark'; mark: ChangeMark }
  | { kind: 'attributes' }
  | { kind: 'sort' }
  | { kind: 'extract' }
  | { kind: 'view' };

/**
 * dive's default bindings. As in dive, ctrl+a means "aggregated view" in the
 * layers pane and "show/hide added files" in the tree pane. ctrl+m reaches a
 * program as Enter (both are CR), so Enter toggles modified files too, and
 * ctrl+space arrives as NUL, which ink names ctrl+`.
 */
export function commandFor(input: string, key: Key, pane: Pane): Command | undefined {
  if (key.ctrl && input === 'c') return { kind: 'quit' };
  if (input === 'q' && !key.ctrl) return { kind: 'quit' };
  if (key.tab) return { kind: 'next-pane' };
  if ((key.ctrl && input === 'f') || input === '/') return { kind: 'open-filter' };
  if (input === '?') return { kind: 'help' };
  if (key.upArrow || (input === 'k' && !key.ctrl)) return { kind: 'move', by: -1 };
  if (key.downArrow || (input === 'j' && !key.ctrl)) return { kind: 'move', by: 1 };
  if (key.home) return { kind: 'move', by: -Infinity };
  if (key.end) return { kind: 'move', by: Infinity };
  if (key.pageUp) return { kind: 'page', by: -1 };
  if (key.pageDown) return { kind: 'page', by: 1 };
  if (key.ctrl && input === 'b') return { kind: 'attributes' };
  if (key.ctrl && input === 'o') return { kind: 'sort' };
  if (pane === 'layers') {
    if (key.ctrl && input === 'a') return { kind: 'mode', mode: 'aggregated' };
    if (key.ctrl && input === 'l') return { kind: 'mode', mode: 'layer' };
    return undefined;
  }
  if (input === ' ' && !key.ctrl) return { kind: 'collapse' };
  if (key.ctrl && input === '`') return { kind: 'collapse-all' };
  if (key.ctrl && input === 'a') return { kind: 'toggle-mark', mark: 'added' };
  if (key.ctrl && input === 'r') return { kind: 'toggle-mark', mark: 'removed' };
  if ((key.ctrl && input === 'm') || key.return) return { kind: 'toggle-mark', mark: 'modified' };
  if (key.ctrl && input === 'u') return { kind: 'toggle-mark', mark: 'unmodified' };
  if (key.ctrl && input === 'e') return { kind: 'extract' };
  if (input === 'v' && !key.ctrl) return { kind: 'view' };
  return undefined;
}

/** The `?` screen: every binding, by where it works. */
export const KEY_HELP: [string, string, string][] = [
  ['any pane', 'tab', 'switch between the layers and the file tree'],
  ['any pane', 'ctrl+f or /', 'filter files by regex (enter keeps it, esc clears it)'],
  ['any pane', '↑ ↓ / k j', 'move the selection'],
  ['any pane', 'pgup / pgdn', 'move a page'],
  ['any pane', 'home / end', 'move to the first / last'],
  ['any pane', 'ctrl+b', 'show/hide file attributes'],
  ['any pane', 'ctrl+o', 'sort the tree by name or by size'],
  ['any pane', 'q / ctrl+c', 'quit'],
  ['any pane', '?', 'this help (any key closes it)'],
  ['layers', 'ctrl+a', 'aggregated view: the image up to this layer'],
  ['layers', 'ctrl+l', 'layer view: what this layer changed'],
  ['file tree', 'space', 'collapse/expand the directory'],
  ['file tree', 'ctrl+space', 'collapse/expand all directories'],
  ['file tree', 'ctrl+a', 'show/hide added files'],
  ['file tree', 'ctrl+r', 'show/hide removed files'],
  ['file tree', 'ctrl+m / enter', 'show/hide modified files'],
  ['file tree', 'ctrl+u', 'show/hide unmodified files'],
  ['file tree', 'ctrl+e', 'extract the selected file to the current directory'],
  ['file tree', 'v', "view the selected file's content from this layer"],
];

/**
 * ink hands a run of bytes without escape sequences (fast typing, a paste,
 * `tmux send-keys`) over as one input; this splits it into one key each.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  if ([...input].length <= 1 || key.ctrl || key.meta) return [[input, key]];
  const none: Key = {
    ...key,
    upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageUp: false, pageDown: false, home: false, end: false,
    return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  };
  return [...input].map((ch): [string, Key] => {
    const code = ch.codePointAt(0)!;
    if (ch === '\t') return ['', { ...none, tab: true }];
    if (ch === '\r') return ['', { ...none, return: true }];
    if (ch === '\b') return ['', { ...none, backspace: true }];
    if (ch === '\x7f') return ['', { ...none, delete: true }];
    if (code <= 0x1a) return [String.fromCharCode(code + 0x60), { ...none, ctrl: true }];
    return [ch, { ...none, shift: /[A-Z]/.test(ch) }];
  });
}
