import { Box, Text } from 'ink';
import { formatBytes } from '../../ci/humanBytes.js';
import { fit } from '../attributes.js';
import type { FileText } from '../layerFile.js';
import { PaneTitle } from './PaneTitle.js';

export interface PagerContent {
  title: string;
  text?: FileText;
  error?: string;
  top: number;
}

export const PAGER_CHROME = 2;

/** A file's content from one layer, a screen at a time. */
export function Pager({ content, width, height }: { content: PagerContent; width: number; height: number }) {
  const room = Math.max(0, height - PAGER_CHROME);
  const { text, error } = content;
  const lines = error !== undefined ? [error] : text ? text.lines.slice(content.top, content.top + room) : ['reading the layer…'];
  const total = text?.lines.length ?? 0;
  const cut = text && text.shownBytes < text.size ? `, first ${formatBytes(text.shownBytes)} of ${formatBytes(text.size)}` : '';
  const where = text ? `lines ${Math.min(total, content.top + 1)}-${Math.min(total, content.top + room)} of ${total}${text.binary ? ', binary: hex dump' : ''}${cut}` : '';
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title={content.title} width={width} focused />
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate" {...(error !== undefined ? { color: 'red' } : {})}>{fit(line, width)}</Text>
      ))}
      <Box flexGrow={1} />
      <Text dimColor>{fit(`${where}   ↑↓ jk pgup pgdn scroll · q esc v close`, width)}</Text>
    </Box>
  );
}
