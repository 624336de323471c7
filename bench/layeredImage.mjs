// Writes a synthetic many-layer, many-file image as an OCI layout, straight from memory (no
// build, no files on disk but the blobs): the large image tsdive's speed target names.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BLOCK = 512;
const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

function octal(value, width) {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One ustar header block (names are short, so no prefix field and no PAX records). */
function tarHeader(name, { size = 0, type = '0', mode = 0o644 }) {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100);
  header.write(octal(mode, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(1700000000, 12), 136);
  header.fill(' ', 148, 156);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

function padded(content) {
  const rest = content.length % BLOCK;
  return rest ? Buffer.concat([content, Buffer.alloc(BLOCK - rest)]) : content;
}

/** Half text, half random hex, as in an application tree, so gzip has real work (about 2.5x). */
function fileContent(layer, index) {
  const size = 1 + ((index * 37) % 1100);
  let x = (layer * 1000003 + index * 7919) | 1;
  const hex = Buffer.alloc(Math.floor(size / 2));
  for (let i = 0; i < hex.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    hex[i] = 0x61 + ((x >>> 0) % 16);
  }
  const text = Buffer.from(`layer ${layer} file ${index}\n`.repeat(Math.ceil((size - hex.length) / 16))).subarray(0, size - hex.length);
  return Buffer.concat([text, hex]);
}

const fileName = (layer, dir, file) => `l${String(layer).padStart(2, '0')}/d${String(dir).padStart(3, '0')}/f${String(file).padStart(3, '0')}.txt`;

/**
 * Layer k adds filesPerLayer files under lKK/dDDD/ (100 per directory, 1-1100 bytes of text);
 * from the second layer on it also rewrites 100 files of the layer before (wasted space for
 * tsdive to find) and deletes 50 of them with whiteouts.
 */
function layerTar(layer, filesPerLayer) {
  const parts = [];
  const file = (name, content) => parts.push(tarHeader(name, { size: content.length }), padded(content));
  const dirs = Math.ceil(filesPerLayer / 100);
  parts.push(tarHeader(`l${String(layer).padStart(2, '0')}/`, { type: '5', mode: 0o755 }));
  for (let d = 0; d < dirs; d++) {
    parts.push(tarHeader(`${fileName(layer, d, 0).split('/').slice(0, 2).join('/')}/`, { type: '5', mode: 0o755 }));
    for (let f = 0; f < 100 && d * 100 + f < filesPerLayer; f++) {
      file(fileName(layer, d, f), fileContent(layer, d * 100 + f));
    }
  }
  if (layer > 0) {
    for (let f = 0; f < 100; f++) file(fileName(layer - 1, 1, f), Buffer.from(`rewritten by layer ${layer}\n`.repeat(20)));
    for (let f = 0; f < 50; f++) file(fileName(layer - 1, 2, f).replace(/f(\d+)\.txt$/, '.wh.f$1.txt'), Buffer.alloc(0));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function writeBlob(layoutDir, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layoutDir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Writes the layout at layoutDir with the image tagged `ref`; returns its file count. */
export function writeLayeredImage(layoutDir, { layers, files, ref }) {
  mkdirSync(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  const filesPerLayer = Math.ceil(files / layers);
  const layerDescriptors = [];
  const diffIds = [];
  for (let k = 0; k < layers; k++) {
    const tar = layerTar(k, filesPerLayer);
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    layerDescriptors.push({ mediaType: LAYER_MEDIA_TYPE, ...writeBlob(layoutDir, gzipSync(tar)) });
  }
  const config = {
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, k) => ({ created: '2026-01-01T00:00:00Z', created_by: `bench layer ${k}` })),
  };
  const manifest = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...writeBlob(layoutDir, Buffer.from(JSON.stringify(config))) },
    layers: layerDescriptors,
  };
  const manifestDescriptor = { mediaType: manifest.mediaType, ...writeBlob(layoutDir, Buffer.from(JSON.stringify(manifest))),
    annotations: { 'org.opencontainers.image.ref.name': ref } };
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [manifestDescriptor] }));
  return filesPerLayer * layers;
}
