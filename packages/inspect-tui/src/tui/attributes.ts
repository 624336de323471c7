import type { FileInfo } from '../analysis/fileInfo.js';

const TYPE_CHARS: Record<FileInfo['type'], string> = {
  file: '-',
  hardlink: '-',
  directory: 'd',
  symlink: 'l',
  'character-device': 'c',
  'block-device': 'b',
  fifo: 'p',
};

/** `ls -l`'s mode column: `drwxr-xr-x`, `-rwsr-xr-x`, `drwxrwxrwt`. */
export function modeString(info: FileInfo): string {
  const m = info.mode;
  const bit = (mask: number, ch: string) => (m & mask ? ch : '-');
  const special = (exec: number, flag: number, set: string) => (m & flag ? (m & exec ? set : set.toUpperCase()) : m & exec ? 'x' : '-');
  return (
    TYPE_CHARS[info.type] +
    bit(0o400, 'r') + bit(0o200, 'w') + special(0o100, 0o4000, 's') +
    bit(0o040, 'r') + bit(0o020, 'w') + special(0o010, 0o2000, 's') +
    bit(0o004, 'r') + bit(0o002, 'w') + special(0o001, 0o1000, 't')
  );
}

/**
 * Cuts `text` to at most `width` columns. Lines are not padded: every
 * character on screen costs ink time on every frame, and blank cells are
 * blank anyway.
 */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  // No more UTF-16 units than columns: no more characters either.
  if (text.length <= width) return text;
  const chars = [...text];
  return chars.length > width ? chars.slice(0, Math.max(0, width - 1)).join('') + '…' : text;
}

/** `text` cut or padded to exactly `width` columns: a bar (an inverted title, a selected row). */
export function fill(text: string, width: number): string {
  const cut = fit(text, width);
  return cut + ' '.repeat(Math.max(0, width - [...cut].length));
}
