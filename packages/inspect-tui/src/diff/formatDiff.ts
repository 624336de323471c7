import type { FileInfo } from '../analysis/fileInfo.js';
import { formatBytes } from '../ci/humanBytes.js';
import type { ImageDifference, PathDifference } from './diffImages.js';

const MARKS: Record<PathDifference['change'], string> = { added: '+', removed: '-', modified: '~' };

/** What about a path changed, in words: `size 6.4 kB -> 7 kB, mode 0644 -> 0444`. */
function whatChanged(before: FileInfo, after: FileInfo): string {
  const parts: string[] = [];
  if (before.type !== after.type) parts.push(`${before.type} -> ${after.type}`);
  if (before.size !== after.size) parts.push(`size ${formatBytes(before.size)} -> ${formatBytes(after.size)}`);
  else if (before.hash !== after.hash) parts.push('content');
  if (before.mode !== after.mode) parts.push(`mode ${before.mode.toString(8).padStart(4, '0')} -> ${after.mode.toString(8).padStart(4, '0')}`);
  if (before.uid !== after.uid || before.gid !== after.gid) parts.push(`owner ${before.uid}:${before.gid} -> ${after.uid}:${after.gid}`);
  if ((before.linkname ?? '') !== (after.linkname ?? '')) parts.push(`link ${before.linkname ?? ''} -> ${after.linkname ?? ''}`);
  return parts.join(', ');
}

function describe(d: PathDifference): string {
  const info = (d.after ?? d.before)!;
  const link = info.linkname !== undefined ? ` -> ${info.linkname}` : '';
  const size = info.type === 'file' ? formatBytes(info.size) : info.type === 'directory' ? 'dir' : info.type;
  const detail = d.change === 'modified' ? `   (${whatChanged(d.before!, d.after!)})` : '';
  return `${MARKS[d.change]} ${size.padStart(9)}  ${d.path}${d.change === 'modified' ? '' : link}${detail}`;
}

/** The `tsdive diff` report: both images, the base they share, then one line per changed path. */
export function formatDiff(names: [string, string], diff: ImageDifference): string {
  const count = (change: PathDifference['change']) => diff.changes.filter((d) => d.change === change).length;
  const lines = [
    `A: ${names[0]}  (${diff.layers[0]} layers, ${formatBytes(diff.sizeBytes[0])})`,
    `B: ${names[1]}  (${diff.layers[1]} layers, ${formatBytes(diff.sizeBytes[1])})`,
    `shared base layers: ${diff.sharedLayers}`,
    '',
    ...diff.changes.map(describe),
    ...(diff.changes.length > 0 ? [''] : []),
    diff.changes.length === 0 ? 'no differences' : `${count('added')} added, ${count('modified')} modified, ${count('removed')} removed`,
  ];
  return `${lines.join('\n')}\n`;
}
