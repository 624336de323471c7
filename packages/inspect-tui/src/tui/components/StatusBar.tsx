import { Box, Text } from 'ink';
import type { ChangeMark } from '../../analysis/fileInfo.js';
import { fit } from '../attributes.js';
import type { Pane } from '../keys.js';

const COMMON = '^C/q Quit  Tab Switch  ^F Filter  ^B Attrs  ^O Sort  ? Help';
const LAYER_HINTS = '^A Aggregated  ^L This layer';
const TREE_TOGGLES: [string, ChangeMark][] = [['^A Added', 'added'], ['^R Removed', 'removed'], ['^M Modified', 'modified'], ['^U Unmodified', 'unmodified']];

/** Key hints for the focused pane (toggled-off marks dimmed), or a message when there is one. */
export function StatusBar({ pane, hidden, message, width }: { pane: Pane; hidden: ReadonlySet<ChangeMark>; message?: string | undefined; width: number }) {
  if (message !== undefined) return <Text inverse wrap="truncate">{fit(message, width)}</Text>;
  if (pane === 'layers') return <Text inverse wrap="truncate">{fit(`${LAYER_HINTS}  ${COMMON}`, width)}</Text>;
  const toggles = TREE_TOGGLES.map(([hint, mark]) => (
    <Text key={mark} inverse dimColor={hidden.has(mark)}>{`${hint}  `}</Text>
  ));
  const used = TREE_TOGGLES.reduce((n, [hint]) => n + hint.length + 2, 0);
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text inverse wrap="truncate">
        <Text inverse>Space Collapse  ^Space All  </Text>
        {toggles}
        <Text inverse>{fit(`^E Extract  v View  ${COMMON}`, Math.max(0, width - used - 28))}</Text>
      </Text>
    </Box>
  );
}

/** The filter line (dive's "Path Filter"), with the regex error while the text is not one. */
export function FilterBar({ text, editing, error, width }: { text: string; editing: boolean; error?: string | undefined; width: number }) {
  const line = `Path Filter (regex): ${text}${editing ? '█' : ''}${error ? `   (${error})` : ''}`;
  return <Text {...(error ? { color: 'red' } : {})} wrap="truncate">{fit(line, width)}</Text>;
}
