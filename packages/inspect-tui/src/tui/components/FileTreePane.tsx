import { Box, Text } from 'ink';
import type { ChangeMark } from '../../analysis/fileInfo.js';
import { formatBytes } from '../../ci/humanBytes.js';
import { fill, fit, modeString } from '../attributes.js';
import type { TreeMode } from '../imageTree.js';
import type { SortOrder, TreeRow } from '../treeView.js';
import { PaneTitle } from './PaneTitle.js';

/** dive's colours for the marks; unmodified paths keep the terminal's colour. */
const MARK_COLOURS: Record<ChangeMark, string | undefined> = {
  added: 'green',
  removed: 'red',
  modified: 'yellow',
  unmodified: undefined,
};

export interface FileTreePaneProps {
  /** The rows on screen; none yet while the layer is being analysed. */
  rows: TreeRow[] | undefined;
  /** Which of them is selected. */
  selected: number;
  mode: TreeMode;
  sort: SortOrder;
  hidden: ReadonlySet<ChangeMark>;
  attributes: boolean;
  focused: boolean;
  width: number;
  height: number;
}

/** Lines of the pane that are not tree rows: the title and the column header. */
export const TREE_PANE_CHROME = 2;

function attributeColumns(row: TreeRow): string {
  const { info } = row.node;
  return `${modeString(info)} ${`${info.uid}:${info.gid}`.padStart(7)} ${formatBytes(row.node.size).padStart(7)}  `;
}

function label(row: TreeRow): string {
  const { node } = row;
  const link = node.info.type === 'symlink' || node.info.type === 'hardlink' ? ` -> ${node.info.linkname ?? ''}` : '';
  return `${row.guide}${row.collapsed ? '⊕ ' : ''}${node.name}${link}`;
}

/**
 * The selected layer's file tree. Only the rows that fit are rendered, so a
 * tree of any size costs the same to draw and to scroll.
 */
export function FileTreePane({ rows, selected, mode, sort, hidden, attributes, focused, width, height }: FileTreePaneProps) {
  const shown = (rows ?? []).slice(0, Math.max(0, height - TREE_PANE_CHROME));
  const hiddenNote = hidden.size > 0 ? `, hiding ${[...hidden].join(' ')}` : '';
  const title = `${mode === 'aggregated' ? 'Aggregated' : 'Current Layer'} Contents (by ${sort}${hiddenNote})`;
  const header = attributes ? `${'Permission'.padEnd(10)} ${'UID:GID'.padStart(7)} ${'Size'.padStart(7)}  Filetree` : 'Filetree';
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title={title} width={width} focused={focused} />
      <Text dimColor>{fit(header, width)}</Text>
      {!rows && <Text dimColor>{fit('analysing…', width)}</Text>}
      {rows && shown.length === 0 && <Text dimColor>{fit('(nothing to show)', width)}</Text>}
      {shown.map((row, i) => {
        const bar = i === selected && focused;
        const text = (bar ? fill : fit)((attributes ? attributeColumns(row) : '') + label(row), width);
        const colour = MARK_COLOURS[row.node.change];
        return (
          <Text key={i} wrap="truncate" inverse={bar} bold={i === selected && !focused} {...(colour && { color: colour })}>
            {text}
          </Text>
        );
      })}
    </Box>
  );
}
