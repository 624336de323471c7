import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { createLayer, type Digest, type Layer } from '@tsbuild/oci-layout';
import { extractLayerFile, readFileText } from '../../packages/inspect-tui/src/tui/layerFile.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const GIB = 1024 ** 3;

/** A layer holding one sparse file of 4 GiB: 'head' at 0, 'tail' at its last bytes, holes between. */
async function sparseLayer(): Promise<Layer> {
  const tar = await collect(
    createLayer(
      [
        {
          kind: 'entry',
          entry: {
            path: 'disk.img',
            type: 'file',
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 4 * GIB,
            sparse: [
              { offset: 0, length: 4 },
              { offset: 4 * GIB - 4, length: 4 },
            ],
            open: () => Readable.from([Buffer.from('headtail')]),
          },
        },
      ],
      { compression: 'gzip' },
    ).stream,
  );
  const digest = 'sha256:0' as Digest;
  return { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: tar.length }, diffId: digest, open: async () => Readable.from([tar]) };
}

describe("tsdive's file pager and extraction on a sparse file", () => {
  it('shows the start of the file as it is, holes as zeros, and its real size', async () => {
    const text = await readFileText(await sparseLayer(), 'disk.img', 64);
    expect(text).toMatchObject({ size: 4 * GIB, shownBytes: 64, binary: true });
    expect(text.lines[0]).toMatch(/^00000000  68 65 61 64 00 00/);
  });

  it('extracts it with its holes: the real size, the data at its offsets, almost no disk', async () => {
    const dir = await dirs.make('tsdive-sparse-');
    const file = await extractLayerFile(await sparseLayer(), 'disk.img', dir);
    const info = await stat(file);
    expect(info.size).toBe(4 * GIB);
    expect(info.blocks * 512).toBeLessThan(1024 * 1024);
    const ends = execFileSync('sh', ['-c', `head -c 4 '${file}'; tail -c 4 '${file}'`]).toString();
    expect(ends).toBe('headtail');
  });
});
