import { Box } from 'ink';
import type { AnalysisProgress } from '../analysisProgress.js';
import type { Frame } from '../explorerFrame.js';
import { ImageDetails, LayerDetails } from './DetailsPanes.js';
import { FileTreePane } from './FileTreePane.js';
import { LayersPane } from './LayersPane.js';

/** dive's main screen: the layers, the selected layer's and the image's details on the left, the file tree on the right. */
export function MainPanes({ frame, progress }: { frame: Frame; progress: AnalysisProgress }) {
  const { state, view, layout, layerPosition, treePosition } = frame;
  return (
    <Box flexDirection="row" height={layout.mainHeight}>
      <Box flexDirection="column" width={layout.leftWidth} height={layout.mainHeight}>
        <LayersPane
          progress={progress}
          analysedCount={progress.analysed.length}
          selected={layerPosition.selected}
          top={layerPosition.top}
          mode={state.mode}
          focused={state.pane === 'layers' && !state.filterOpen}
          width={layout.leftWidth}
          height={layout.layersHeight}
        />
        <LayerDetails layer={progress.layer(layerPosition.selected)} width={layout.leftWidth} />
        <ImageDetails
          analysis={progress.complete}
          analysedCount={progress.analysed.length}
          layerCount={progress.layerCount}
          width={layout.leftWidth}
          height={layout.imageHeight}
        />
      </Box>
      <Box width={1} />
      <FileTreePane
        rows={view.tree?.rows(treePosition.top, treePosition.top + layout.treeRoom)}
        selected={treePosition.selected - treePosition.top}
        mode={state.mode}
        sort={state.sort}
        hidden={state.hidden}
        attributes={layout.attributes}
        focused={state.pane === 'tree' || state.filterOpen}
        width={layout.rightWidth}
        height={layout.mainHeight}
      />
    </Box>
  );
}
