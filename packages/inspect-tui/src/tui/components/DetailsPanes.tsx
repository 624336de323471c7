import { Box, Text } from 'ink';
import { memo } from 'react';
import type { ImageAnalysis, LayerAnalysis, LayerListing } from '../../analysis/analyzeImage.js';
import { formatBytes } from '../../ci/humanBytes.js';
import { fit } from '../attributes.js';
import { PaneTitle } from './PaneTitle.js';

export const LAYER_DETAILS_HEIGHT = 7;

/** dive's Layer Details: digest, diff_id, id, size (once the layer is analysed) and the command that made the layer. */
export const LayerDetails = memo(function LayerDetails({ layer, width }: { layer: LayerAnalysis | LayerListing; width: number }) {
  const lines = [
    `Digest:  ${layer.digest}`,
    `DiffID:  ${layer.diffId}`,
    `Id:      ${layer.id}`,
    `Size:    ${'sizeBytes' in layer ? formatBytes(layer.sizeBytes) : 'analysing…'} (layer ${layer.index})`,
    'Command:',
    layer.command.replace(/\s+/g, ' '),
  ];
  return (
    <Box flexDirection="column" width={width} height={LAYER_DETAILS_HEIGHT}>
      <PaneTitle title="Layer Details" width={width} focused={false} />
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate">{fit(line, width)}</Text>
      ))}
    </Box>
  );
});

/** What each inefficient file's layers did: `+2` wrote in layer 2, `-5` removed in layer 5 (tsdive's addition to dive's table). */
function layerMarks(file: ImageAnalysis['inefficientFiles'][number]): string {
  return file.layers.map((l) => `${l.action === 'wrote' ? '+' : '-'}${l.index}`).join(' ');
}

export interface ImageDetailsProps {
  /** Once every layer is analysed. */
  analysis: ImageAnalysis | undefined;
  analysedCount: number;
  layerCount: number;
  width: number;
  height: number;
}

/**
 * dive's Image Details: total size, wasted space, efficiency and the inefficient files, largest first
 * (how far the analysis is until it is done). Drawn once per size and layer analysed: it never changes after.
 */
export const ImageDetails = memo(function ImageDetails({ analysis, analysedCount, layerCount, width, height }: ImageDetailsProps) {
  if (!analysis) {
    return (
      <Box flexDirection="column" width={width} height={height}>
        <PaneTitle title="Image Details" width={width} focused={false} />
        <Text wrap="truncate" dimColor>{fit(`analysing… ${analysedCount} of ${layerCount} layers`, width)}</Text>
      </Box>
    );
  }
  const header = [
    `Total Image size: ${formatBytes(analysis.sizeBytes)}`,
    `Potential wasted space: ${formatBytes(analysis.wastedBytes)}`,
    `Image efficiency score: ${Math.round(analysis.efficiencyScore * 100)} %`,
    `${'Count'.padStart(5)}  ${'Total Space'.padStart(11)}  ${'Layers'.padEnd(10)}  Path`,
  ];
  const room = Math.max(0, height - 1 - header.length);
  const files = analysis.inefficientFiles.slice(0, room);
  const rows = files.map((f) => `${String(f.count).padStart(5)}  ${formatBytes(f.sizeBytes).padStart(11)}  ${layerMarks(f).padEnd(10)}  ${f.path}`);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title="Image Details" width={width} focused={false} />
      {[...header, ...rows].map((line, i) => (
        <Text key={i} wrap="truncate" dimColor={i === 3}>{fit(line, width)}</Text>
      ))}
    </Box>
  );
});
