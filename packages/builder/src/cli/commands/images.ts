import type { Command } from 'commander';
import { parseImageName, type Image, type LocalStore } from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';
import { humanAge, humanSize } from '../humanSize.js';
import { LayerSizes } from '../layerSizes.js';

async function uncompressedSize(image: Image, layerSizes: LayerSizes): Promise<number> {
  let total = image.configBytes.length + image.manifestBytes.length;
  for (const layer of image.layers) total += await layerSizes.of(layer);
  return total;
}

interface ImageRow {
  /** Absent for an untagged build, shown as `<none>` `<none>` as docker shows dangling images. */
  name?: string;
  repository: string;
  tag: string;
  digest: string;
  id: string;
  created?: string;
  /** Bytes in the store: compressed layers plus the config. */
  size: number;
  /** What podman's SIZE counts: uncompressed layers (tar bytes) plus the config and the manifest. */
  uncompressedSize: number;
}

async function imageRows(store: LocalStore): Promise<ImageRow[]> {
  const rows: ImageRow[] = [];
  const layerSizes = new LayerSizes(store);
  for (const { name, descriptor } of await store.list()) {
    const image = await store.layout.readImageIfAny(descriptor);
    const parsed = name === undefined ? undefined : parseImageName(name);
    rows.push({
      ...(name !== undefined ? { name } : {}),
      repository: parsed ? `${parsed.registry}/${parsed.repository}` : '<none>',
      tag: parsed?.tag ?? '<none>',
      digest: descriptor.digest,
      id: descriptor.digest.slice('sha256:'.length, 'sha256:'.length + 12),
      ...(image?.config.created ? { created: image.config.created } : {}),
      size: image ? image.manifest.layers.reduce((sum, l) => sum + l.size, image.manifest.config.size) : 0,
      uncompressedSize: image ? await uncompressedSize(image, layerSizes) : 0,
    });
  }
  // Dangling images last, newest first, as docker lists them.
  return rows.sort((a, b) => (a.name === undefined) !== (b.name === undefined) ? (a.name === undefined ? 1 : -1)
    : a.name !== undefined ? a.name.localeCompare(b.name!) : (b.created ?? '').localeCompare(a.created ?? ''));
}

export function imagesCommand(program: Command): void {
  withRootOption(program.command('images'))
    .alias('list')
    .description('list images in the local store')
    .option('--json', 'print JSON instead of a table')
    .option('-q, --quiet', 'print image IDs only')
    .action(async (opts: { json?: boolean; quiet?: boolean }, cmd: Command) => {
      const rows = await imageRows(await openStore(cmd));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (opts.quiet) {
        for (const row of rows) process.stdout.write(`${row.id}\n`);
        return;
      }
      const table = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      for (const r of rows) table.push([r.repository, r.tag, r.id, r.created ? humanAge(new Date(r.created)) : '', humanSize(r.uncompressedSize)]);
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]! + 3)).join('').trimEnd()}\n`);
    });
}
