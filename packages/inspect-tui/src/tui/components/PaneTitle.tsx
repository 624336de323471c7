import { Text } from 'ink';
import { fill, fit } from '../attributes.js';

/** A pane's title line; the focused pane's is shown inverted, as dive highlights its active view. */
export function PaneTitle({ title, width, focused }: { title: string; width: number; focused: boolean }) {
  if (focused) return <Text inverse bold>{fill(`▶ ${title}`, width)}</Text>;
  const lead = `─ ${title} `;
  return <Text bold>{fit(lead + '─'.repeat(Math.max(0, width - [...lead].length)), width)}</Text>;
}
