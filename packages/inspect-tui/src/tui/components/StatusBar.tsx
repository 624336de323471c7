import { Text } from 'ink';
import type { ChangeMark } from '../../analysis/fileInfo.js';
import { fill, fit } from '../attributes.js';
import type { Pane } from '../keys.js';

interface Hint {
  text: string;
  /** A tree toggle that is off (its paths hidden) is shown dimmed. */
  off?: boolean;
}

const FIRST: Hint[] = [{ text: '? Help' }, { text: '^C/q Quit' }, { text: 'Tab Switch' }, { text: '^F Filter' }];
const LAST: Hint[] = [{ text: '^B Attrs' }, { text: '^O Sort' }];
const TREE_TOGGLES: [string, ChangeMark][] = [['^A Added', 'added'], ['^R Removed', 'removed'], ['^M Modified', 'modified'], ['^U Unmodified', 'unmodified']];

function hintsFor(pane: Pane, hidden: ReadonlySet<ChangeMark>): Hint[] {
  if (pane === 'layers') return [...FIRST, { text: '^A Aggregated' }, { text: '^L This layer' }, ...LAST];
  return [
    ...FIRST,
    { text: 'Space Collapse' },
    { text: '^Space All' },
    ...TREE_TOGGLES.map(([text, mark]) => ({ text, off: hidden.has(mark) })),
    ...LAST,
    { text: '^E Extract' },
    { text: 'v View' },
  ];
}

/** Key hints for the focused pane, most needed first (as many as fit), or a message when there is one. */
export function StatusBar({ pane, hidden, message, width }: { pane: Pane; hidden: ReadonlySet<ChangeMark>; message?: string | undefined; width: number }) {
  if (message !== undefined) return <Text inverse wrap="truncate">{fill(message, width)}</Text>;
  const shown: Hint[] = [];
  let used = 0;
  for (const hint of hintsFor(pane, hidden)) {
    if (used + hint.text.length + 2 > width) break;
    shown.push(hint);
    used += hint.text.length + 2;
  }
  return (
    <Text inverse wrap="truncate">
      {shown.map((hint) => (
        <Text key={hint.text} inverse dimColor={hint.off === true}>{`${hint.text}  `}</Text>
      ))}
      {' '.repeat(Math.max(0, width - used))}
    </Text>
  );
}

/** The filter line (dive's "Path Filter"), with the regex error while the text is not one. */
export function FilterBar({ text, editing, error, width }: { text: string; editing: boolean; error?: string | undefined; width: number }) {
  const line = `Path Filter (regex): ${text}${editing ? '█' : ''}${error ? `   (${error})` : ''}`;
  return <Text {...(error ? { color: 'red' } : {})} wrap="truncate">{fit(line, width)}</Text>;
}
