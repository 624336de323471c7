import { TAR_TYPEFLAG, type EntryType } from '@tsbuild/oci-layout';
import type { ImageAnalysis, LayerAnalysis } from '../analysis/analyzeImage.js';
import type { LayerNode } from '../analysis/layerTree.js';
import type { FileInfo } from '../analysis/fileInfo.js';

/** dive's FileInfo as its JSON export writes it (Go tar typeflag and os.FileMode numbers). */
export interface DiveFileInfo {
  path: string;
  typeFlag: number;
  linkName: string;
  size: number;
  fileMode: number;
  uid: number;
  gid: number;
  isDir: boolean;
}

export interface DiveExport {
  layer: { index: number; id: string; digestId: string; sizeBytes: number; command: string; fileList: DiveFileInfo[] }[];
  image: {
    sizeBytes: number;
    inefficientBytes: number;
    efficiencyScore: number;
    fileReference: { count: number; sizeBytes: number; file: string }[];
    /** Not in dive's export; 0 when the image has no bytes above its base layer. */
    userWastedPercent: number;
  };
}

// Go's os.FileMode type and special bits.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;

const TYPE_MODE: Record<EntryType, number> = {
  file: 0,
  hardlink: 0,
  symlink: MODE_SYMLINK,
  'character-device': MODE_DEVICE + MODE_CHAR_DEVICE,
  'block-device': MODE_DEVICE,
  directory: MODE_DIR,
  fifo: MODE_NAMED_PIPE,
};

function goFileMode(info: FileInfo): number {
  let mode = (info.mode & 0o777) + TYPE_MODE[info.type];
  if (info.mode & 0o4000) mode += MODE_SETUID;
  if (info.mode & 0o2000) mode += MODE_SETGID;
  if (info.mode & 0o1000) mode += MODE_STICKY;
  return mode;
}

/** What dive holds for a tree node: the tar entry, or an empty record for whiteouts' attributes and implied parents. */
function diveFileInfo(node: LayerNode): DiveFileInfo {
  if (node.kind === 'entry') {
    const info = node.info!;
    return {
      path: node.path,
      typeFlag: TAR_TYPEFLAG[info.type].charCodeAt(0),
      linkName: info.linkname ?? '',
      size: info.size,
      fileMode: goFileMode(info),
      uid: info.uid,
      gid: info.gid,
      isDir: info.type === 'directory',
    };
  }
  const slash = node.path.lastIndexOf('/');
  // A whiteout keeps its tar name; its attributes are not kept by the layer reader (docker writes them as 0).
  const path = node.kind === 'whiteout' ? node.path.slice(0, slash + 1) + node.name : '';
  return { path, typeFlag: node.kind === 'whiteout' ? 48 : 0, linkName: '', size: 0, fileMode: 0, uid: 0, gid: 0, isDir: false };
}

function exportLayer(layer: LayerAnalysis): DiveExport['layer'][number] {
  return {
    index: layer.index,
    id: layer.id,
    digestId: layer.diffId,
    sizeBytes: layer.sizeBytes,
    command: layer.command,
    fileList: layer.nodes.map(diveFileInfo),
  };
}

/** dive's `--json` document (cmd/dive/cli/internal/command/export), plus `image.userWastedPercent`. */
export function diveExport(analysis: ImageAnalysis): DiveExport {
  return {
    layer: analysis.layers.map(exportLayer),
    image: {
      sizeBytes: analysis.sizeBytes,
      inefficientBytes: analysis.wastedBytes,
      efficiencyScore: analysis.efficiencyScore,
      fileReference: analysis.inefficientFiles.map((f) => ({ count: f.count, sizeBytes: f.sizeBytes, file: f.path })),
      userWastedPercent: Number.isFinite(analysis.userWastedPercent) ? analysis.userWastedPercent : 0,
    },
  };
}

/** Indented like dive's json.MarshalIndent(…, "", "  "). */
export function formatDiveExport(analysis: ImageAnalysis): string {
  return JSON.stringify(diveExport(analysis), null, 2) + '\n';
}
