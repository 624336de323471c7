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

/** Pads or cuts `text` to exactly `width` columns, so every pane line has the width of its pane. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return chars.slice(0, Math.max(0, width - 1)).join('') + '…';
  return text + ' '.repeat(width - chars.length);
}
