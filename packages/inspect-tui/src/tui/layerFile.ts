import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { placedPieces, readLayer, type Layer, type LayerEntry } from '@tsbuild/oci-layout';
import { TsdiveError } from '../tsdiveError.js';

/**
 * Streams the layer once up to `path` and hands that entry's content to
 * `use`; the rest of the layer is never read.
 */
async function withLayerFile<T>(layer: Layer, path: string, use: (entry: LayerEntry & Required<Pick<LayerEntry, 'content'>>) => Promise<T>): Promise<T> {
  for await (const change of readLayer(await layer.open())) {
    if (change.kind !== 'entry' || change.entry.path !== path) continue;
    const { entry } = change;
    if (entry.type !== 'file' || !entry.content) {
      throw new TsdiveError('not-a-regular-file', `/${path} is a ${entry.type}${entry.linkname ? ` (-> ${entry.linkname})` : ''}, not a regular file`);
    }
    // Awaited here: leaving the loop closes the layer, which must wait until `use` has read the entry.
    return await use({ ...entry, content: entry.content });
  }
  throw new TsdiveError('not-a-regular-file', `/${path} is not in this layer`);
}

export interface FileText {
  lines: string[];
  /** Bytes shown, and the file's whole size (the pager keeps at most `limit`). */
  shownBytes: number;
  size: number;
  binary: boolean;
}

const PAGER_LIMIT = 8 * 1024 * 1024;

/** The start of a file from a layer, as lines for the pager; binary content is shown as a hex dump. */
export async function readFileText(layer: Layer, path: string, limit = PAGER_LIMIT): Promise<FileText> {
  return withLayerFile(layer, path, async ({ content, size, sparse }) => {
    let bytes: Buffer;
    if (sparse) {
      // Holes read as zeros: the start of the file as it would be on disk, never more of it than the pager keeps.
      bytes = Buffer.alloc(Math.min(size, limit));
      for await (const { data, offset } of placedPieces(content, sparse)) if (offset < bytes.length) data.copy(bytes, offset);
    } else {
      const chunks: Buffer[] = [];
      let kept = 0;
      for await (const chunk of content as AsyncIterable<Buffer>) {
        if (kept >= limit) continue;
        const part = chunk.subarray(0, limit - kept);
        chunks.push(part);
        kept += part.length;
      }
      bytes = Buffer.concat(chunks);
    }
    const shownBytes = bytes.length;
    const binary = bytes.includes(0);
    const lines = binary ? hexDump(bytes) : bytes.toString('utf8').replace(/\t/g, '    ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '�').split(/\r?\n/);
    if (!binary && lines.at(-1) === '') lines.pop();
    return { lines, shownBytes, size, binary };
  });
}

function hexDump(bytes: Buffer): string[] {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines;
}

/** Writes a file from a layer to `dir` as `name` (default: its own name); never overwrites. Resolves to the path written. */
export async function extractLayerFile(layer: Layer, path: string, dir: string, name = basename(path)): Promise<string> {
  const target = resolve(dir, basename(name));
  await withLayerFile(layer, path, async ({ content, size, sparse }) => {
    if (!sparse) return pipeline(content, createWriteStream(target, { flags: 'wx' }));
    // A sparse file keeps its holes: each data region is written at its offset, and the size is set at the end.
    const file = await open(target, 'wx');
    try {
      for await (const { data, offset } of placedPieces(content, sparse)) {
        for (let done = 0; done < data.length; ) done += (await file.write(data, done, data.length - done, offset + done)).bytesWritten;
      }
      await file.truncate(size);
    } finally {
      await file.close();
    }
  });
  return target;
}
