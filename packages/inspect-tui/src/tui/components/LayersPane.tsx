import { Box, Text } from 'ink';
import { memo } from 'react';
import { formatBytes } from '../../ci/humanBytes.js';
import type { AnalysisProgress } from '../analysisProgress.js';
import { fill, fit } from '../attributes.js';
import type { TreeMode } from '../imageTree.js';
import { PaneTitle } from './PaneTitle.js';

export interface LayersPaneProps {
  progress: AnalysisProgress;
  /** How many layers are analysed: the pane is drawn again as layers come in. */
  analysedCount: number;
  /** The selected layer, and the first one on screen. */
  selected: number;
  top: number;
  mode: TreeMode;
  focused: boolean;
  width: number;
  height: number;
}

/** Lines of the pane that are not layers: the title and the column header. */
export const LAYERS_PANE_CHROME = 2;

/**
 * dive's Layers view: `Cmp | Size | Command`, the compared layers marked in Cmp,
 * and `…` for the size of a layer still being analysed.
 * Drawn again only when its props change (not on every move in the tree).
 */
export const LayersPane = memo(function LayersPane({ progress, selected, top, mode, focused, width, height }: LayersPaneProps) {
  const rows = Math.max(0, height - LAYERS_PANE_CHROME);
  const shown = Array.from({ length: Math.max(0, Math.min(rows, progress.layerCount - top)) }, (_, i) => progress.layer(top + i));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title={`Layers (${mode === 'aggregated' ? 'aggregated' : 'this layer'})`} width={width} focused={focused} />
      <Text dimColor>{fit('Cmp   Size  Command', width)}</Text>
      {shown.map((layer) => {
        const compared = mode === 'aggregated' ? layer.index <= selected : layer.index === selected;
        const isSelected = layer.index === selected;
        const analysed = 'sizeBytes' in layer;
        const size = analysed ? formatBytes(layer.sizeBytes) : '…';
        const line = (isSelected && focused ? fill : fit)(`${compared ? ' █ ' : '   '}${size.padStart(7)}  ${layer.command.replace(/\s+/g, ' ')}`, width);
        return (
          <Text key={layer.index} inverse={isSelected && focused} bold={isSelected} dimColor={!analysed} wrap="truncate">
            {line}
          </Text>
        );
      })}
    </Box>
  );
});
