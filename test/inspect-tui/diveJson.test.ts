import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDockerArchive } from '@tsbuild/oci-layout';
import { analyzeImage } from '@tsbuild/inspect-tui';
import { diveExport, diveExportPieces, formatDiveExport } from '../../packages/inspect-tui/src/report/diveJson.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';
import { writeDockerArchive } from './dockerArchiveFixture.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

/** What JSON.stringify makes of the whole document, as dive's MarshalIndent lays it out. */
const stringified = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

describe('the dive JSON document', () => {
  it('is written piece by piece exactly as JSON.stringify would write it whole', async () => {
    const analysis = await analyzeImage(await openDockerArchive(DIVE_IMAGE));
    expect(formatDiveExport(analysis)).toBe(stringified(diveExport(analysis)));
  });

  it('escapes names as JSON.stringify does, across many pieces, with empty layers and no wasted files', async () => {
    const names = ['quote"d', 'back\\slash', 'new\nline', 'tab\there', 'ünïcödé', '日本語', 'emoji-😀', 'del\u007f', 'sep\u2028'];
    const many = Array.from({ length: 9000 }, (_, i) => ({ name: `many/f${i}`, content: String(i % 7) }));
    const file = join(await dirs.make(), 'names.tar');
    await writeDockerArchive(file, [
      { createdBy: 'names', entries: names.map((name) => ({ name: `odd/${name}`, content: name })) },
      { createdBy: 'many', entries: many },
      { createdBy: 'links', entries: [{ name: 'odd/link"', type: 'symlink', linkname: 'tar"get\\' }] },
      { createdBy: 'nothing', entries: [] },
    ]);
    const analysis = await analyzeImage(await openDockerArchive(file));
    expect([...diveExportPieces(analysis)].length).toBeGreaterThan(3);
    expect(formatDiveExport(analysis)).toBe(stringified(diveExport(analysis)));
    const doc = JSON.parse(formatDiveExport(analysis));
    expect(doc.layer[0].fileList.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(names.map((n) => `odd/${n}`)));
    expect(doc.layer[3].fileList).toEqual([]);
  });

  it('has an empty layer list for an image without layers', async () => {
    const analysis = await analyzeImage(await openDockerArchive(DIVE_IMAGE));
    const empty = { ...analysis, layers: [], inefficientFiles: [] };
    expect(formatDiveExport(empty)).toBe(stringified(diveExport(empty)));
  });
});
