import { Box, Text } from 'ink';
import type { LayerAnalysis } from '../../analysis/analyzeImage.js';
import { formatBytes } from '../../ci/humanBytes.js';
import { fit } from '../attributes.js';
import type { TreeMode } from '../fileTree.js';
import type { ListPosition } from '../state.js';
import { PaneTitle } from './PaneTitle.js';

export interface LayersPaneProps {
  layers: LayerAnalysis[];
  position: ListPosition;
  mode: TreeMode;
  focused: boolean;
  width: number;
  height: number;
}

/** Lines of the pane that are not layers: the title and the column header. */
export const LAYERS_PANE_CHROME = 2;

/** dive's Layers view: `Cmp | Size | Command`, the compared layers marked in Cmp. */
export function LayersPane({ layers, position, mode, focused, width, height }: LayersPaneProps) {
  const rows = Math.max(0, height - LAYERS_PANE_CHROME);
  const shown = layers.slice(position.top, position.top + rows);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title={`Layers (${mode === 'aggregated' ? 'aggregated' : 'this layer'})`} width={width} focused={focused} />
      <Text dimColor>{fit('Cmp   Size  Command', width)}</Text>
      {shown.map((layer) => {
        const compared = mode === 'aggregated' ? layer.index <= position.selected : layer.index === position.selected;
        const line = fit(`${compared ? ' █ ' : '   '}${formatBytes(layer.sizeBytes).padStart(7)}  ${layer.command.replace(/\s+/g, ' ')}`, width);
        const selected = layer.index === position.selected;
        return (
          <Text key={layer.index} inverse={selected && focused} bold={selected} wrap="truncate">
            {line}
          </Text>
        );
      })}
    </Box>
  );
}
