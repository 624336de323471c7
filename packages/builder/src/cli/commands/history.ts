import type { Command } from 'commander';
import type { Image } from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';
import { humanAge, humanSize } from '../humanSize.js';
import { LayerSizes } from '../layerSizes.js';

/** docker history's column width for CREATED BY before it is cut with "…". */
const CREATED_BY_WIDTH = 45;

interface HistoryRow {
  /** The image's ID on its newest entry; docker shows `<missing>` for the ones below. */
  id: string;
  created?: string;
  createdBy: string;
  /** Uncompressed bytes of the entry's layer; 0 for an entry that made none. */
  size: number;
  comment: string;
}

/** One row per config history entry, newest first; each entry that made a layer is paired with the next layer. */
async function historyRows(image: Image, layerSizes: LayerSizes): Promise<HistoryRow[]> {
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (const entry of image.config.history ?? []) {
    const size = entry.empty_layer || layer >= image.layers.length ? 0 : await layerSizes.of(image.layers[layer++]!);
    rows.push({
      id: '<missing>',
      ...(entry.created ? { created: entry.created } : {}),
      createdBy: entry.created_by ?? '',
      size,
      comment: entry.comment ?? '',
    });
  }
  rows.reverse();
  if (rows[0]) rows[0].id = image.manifestDigest.slice('sha256:'.length, 'sha256:'.length + 12);
  return rows;
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export function historyCommand(program: Command): void {
  withRootOption(program.command('history'))
    .description('show how an image was built: one row per history entry, newest first, with its layer\'s size')
    .argument('<image>', 'name or ID of an image in the store')
    .option('--no-trunc', 'show CREATED BY and IDs in full')
    .option('-q, --quiet', 'print image IDs only')
    .option('--format <format>', 'json: one JSON object per line, as docker history --format json')
    .action(async (ref: string, opts: { trunc: boolean; quiet?: boolean; format?: string }, cmd: Command) => {
      if (opts.format !== undefined && opts.format !== 'json') throw new Error(`unknown --format "${opts.format}": only json is supported`);
      const store = await openStore(cmd);
      const { descriptor } = await store.resolve(ref);
      const image = await store.layout.readImage(descriptor);
      const rows = await historyRows(image, new LayerSizes(store));
      if (!opts.trunc && rows[0]) rows[0].id = image.manifestDigest;
      if (opts.quiet) {
        for (const row of rows) process.stdout.write(`${row.id}\n`);
        return;
      }
      if (opts.format === 'json') {
        for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        return;
      }
      const table = [['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']];
      for (const r of rows) {
        table.push([r.id, r.created ? humanAge(new Date(r.created)) : '', opts.trunc ? truncate(r.createdBy, CREATED_BY_WIDTH) : r.createdBy, humanSize(r.size), r.comment]);
      }
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]! + 3)).join('').trimEnd()}\n`);
    });
}
