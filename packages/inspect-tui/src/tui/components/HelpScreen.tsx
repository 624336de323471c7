import { Box, Text } from 'ink';
import { fit } from '../attributes.js';
import { KEY_HELP } from '../keys.js';
import { PaneTitle } from './PaneTitle.js';

export function HelpScreen({ width, height }: { width: number; height: number }) {
  const lines = KEY_HELP.map(([where, keys, what]) => `${where.padEnd(10)} ${keys.padEnd(16)} ${what}`).slice(0, Math.max(0, height - 1));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <PaneTitle title="Keys (any key closes this)" width={width} focused />
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate">{fit(line, width)}</Text>
      ))}
    </Box>
  );
}
