import { TAR_TYPEFLAG, type EntryType } from '@tsbuild/oci-layout';
import type { ImageAnalysis, LayerAnalysis } from '../analysis/analyzeImage.js';
import type { LayerTree } from '../analysis/layerTree.js';
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
function diveFileInfo(tree: LayerTree, id: number): DiveFileInfo {
  if (tree.isEntry(id)) {
    const info = tree.files.info(id);
    return {
      path: tree.pathOf(id),
      typeFlag: TAR_TYPEFLAG[info.type].charCodeAt(0),
      linkName: info.linkname ?? '',
      size: info.size,
      fileMode: goFileMode(info),
      uid: info.uid,
      gid: info.gid,
      isDir: info.type === 'directory',
    };
  }
  const whiteout = tree.isWhiteout(id);
  // A whiteout keeps its tar name; its attributes are not kept by the layer reader (docker writes them as 0).
  const path = whiteout ? tree.pathOf(id) : '';
  return { path, typeFlag: whiteout ? 48 : 0, linkName: '', size: 0, fileMode: 0, uid: 0, gid: 0, isDir: false };
}

function exportLayerHead(layer: LayerAnalysis): Omit<DiveExport['layer'][number], 'fileList'> {
  return { index: layer.index, id: layer.id, digestId: layer.diffId, sizeBytes: layer.sizeBytes, command: layer.command };
}

function exportImage(analysis: ImageAnalysis): DiveExport['image'] {
  return {
    sizeBytes: analysis.sizeBytes,
    inefficientBytes: analysis.wastedBytes,
    efficiencyScore: analysis.efficiencyScore,
    fileReference: analysis.inefficientFiles.map((f) => ({ count: f.count, sizeBytes: f.sizeBytes, file: f.path })),
    userWastedPercent: Number.isFinite(analysis.userWastedPercent) ? analysis.userWastedPercent : 0,
  };
}

/** dive's `--json` document (cmd/dive/cli/internal/command/export), plus `image.userWastedPercent`. */
export function diveExport(analysis: ImageAnalysis): DiveExport {
  return {
    layer: analysis.layers.map((layer) => ({ ...exportLayerHead(layer), fileList: Array.from(layer.tree.order, (id) => diveFileInfo(layer.tree, id)) })),
    image: exportImage(analysis),
  };
}

/** JSON.stringify(value, null, 2) with every line after the first indented by `indent` more. */
function indented(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2).replaceAll('\n', `\n${indent}`);
}

/**
 * File records per piece (about 120 KB of text): enough that JSON.stringify's
 * native speed pays, few enough that a piece and its bytes stay small
 * (measured: megabyte pieces cost 25 MB more peak memory, and no less time).
 */
const FILES_PER_BATCH = 512;
const BATCH_HEAD = '{\n  "layer": [\n    {\n      "fileList": [';
const BATCH_TAIL = '\n      ]\n    }\n  ]\n}';

/** Records `from`..`to` of the layer's file list as they appear inside the document, without the brackets. */
function fileListJson(tree: LayerTree, from: number, to: number): string {
  const batch: DiveFileInfo[] = [];
  for (let i = from; i < to; i++) batch.push(diveFileInfo(tree, tree.order[i]!));
  // Stringified at the depth they have in the document, so JSON.stringify indents them as the whole would be.
  const text = JSON.stringify({ layer: [{ fileList: batch }] }, null, 2);
  return text.slice(BATCH_HEAD.length, text.length - BATCH_TAIL.length);
}

/**
 * The document of `diveExport`, indented like dive's json.MarshalIndent(…,
 * "", "  "), in pieces: a big image's document is tens of megabytes, never
 * held whole, and only a batch of its file records exists as objects at a time.
 */
export function* diveExportPieces(analysis: ImageAnalysis): Generator<string> {
  let piece = '{\n  "layer": [';
  for (const [n, layer] of analysis.layers.entries()) {
    const head = indented(exportLayerHead(layer), '    ');
    piece += `${n === 0 ? '' : ','}\n    ${head.slice(0, head.lastIndexOf('\n'))},\n      "fileList": [`;
    const { order } = layer.tree;
    if (order.length === 0) {
      piece += ']\n    }';
      continue;
    }
    for (let from = 0; from < order.length; from += FILES_PER_BATCH) {
      yield `${piece}${from === 0 ? '' : ','}`;
      piece = fileListJson(layer.tree, from, Math.min(from + FILES_PER_BATCH, order.length));
    }
    piece += '\n      ]\n    }';
  }
  piece += analysis.layers.length === 0 ? ']' : '\n  ]';
  yield `${piece},\n  "image": ${indented(exportImage(analysis), '  ')}\n}\n`;
}

/** Indented like dive's json.MarshalIndent(…, "", "  "). */
export function formatDiveExport(analysis: ImageAnalysis): string {
  return [...diveExportPieces(analysis)].join('');
}
