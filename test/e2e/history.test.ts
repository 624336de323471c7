import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;

interface Row { id: string; created?: string; createdBy: string; size: number; comment: string }
interface SkopeoConfig { history: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[]; rootfs: { diff_ids: string[] } }

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  root = await dirs.make();
  await importBusybox(root);
  const context = await dirs.make();
  await writeFile(join(context, 'big'), Buffer.alloc(200_000, 7));
  await writeFile(join(context, 'Dockerfile'), [
    'FROM busybox',
    'ENV GREETING=hello',
    'RUN echo "$GREETING, a RUN step whose command line is long enough to be cut in the table" > /greeting',
    'COPY big /big',
    'CMD ["cat", "/greeting"]',
  ].join('\n'));
  await tsbuildOk(['--root', root, 'build', '-q', '-t', 'hist', context]);
}, 120_000);
afterAll(() => dirs.cleanup());

describe('tsbuild history', () => {
  it('lists what skopeo inspect --config shows, newest first, with each layer\'s uncompressed size', async () => {
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${root}/oci:localhost/hist:latest`])).stdout) as SkopeoConfig;
    const manifest = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci:${root}/oci:localhost/hist:latest`])).stdout) as { layers: { digest: string }[] };
    const layerSizes = await Promise.all(manifest.layers.map(async (l) => gunzipSync(await readFile(join(root, 'oci/blobs/sha256', l.digest.slice(7)))).length));
    const rows = (await tsbuildOk(['--root', root, 'history', '--format', 'json', 'hist'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);

    let layer = 0;
    const expected = config.history.map((h) => ({
      createdBy: h.created_by ?? '', comment: h.comment ?? '', created: Date.parse(h.created!), size: h.empty_layer ? 0 : layerSizes[layer++],
    })).reverse();
    // skopeo prints times Go's way (no zero milliseconds): compare the instants.
    expect(rows.map(({ id: _id, ...r }) => ({ ...r, created: Date.parse(r.created!) }))).toEqual(expected);
    expect(rows.length).toBe(5);
    expect(rows.find((r) => r.createdBy.includes('COPY big'))!.size).toBeGreaterThan(200_000);

    const { digest } = JSON.parse((await tsbuildOk(['--root', root, 'inspect', 'hist'])).stdout) as { digest: string };
    expect(rows.map((r) => r.id)).toEqual([digest.slice(7, 19), '<missing>', '<missing>', '<missing>', '<missing>']);
  });

  it('prints docker\'s table, cutting CREATED BY at 45 characters unless --no-trunc; -q the IDs', async () => {
    const table = (await tsbuildOk(['--root', root, 'history', 'hist'])).stdout.split('\n');
    expect(table[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    const runRow = table.find((l) => l.includes('GREETING, a RUN'))!;
    expect(runRow).toMatch(/…/);
    expect(runRow).not.toContain('cut in the table');
    const full = (await tsbuildOk(['--root', root, 'history', '--no-trunc', 'hist'])).stdout;
    expect(full).toContain('long enough to be cut in the table');
    expect(full).toMatch(/^sha256:[0-9a-f]{64}\s/m);
    expect(table.find((l) => l.includes('COPY big'))).toMatch(/\s20\d\.?\d*kB\s/);
    const ids = (await tsbuildOk(['--root', root, 'history', '-q', 'hist'])).stdout.trim().split('\n');
    expect(ids.slice(1)).toEqual(['<missing>', '<missing>', '<missing>', '<missing>']);
    const missing = await tsbuild(['--root', root, 'history', 'nosuchimage']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^tsbuild: error: image "nosuchimage" not found/);
  });
});
