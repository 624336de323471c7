// `tsdive --json` and the explorer's first screen against the floor of any layer analysis:
// decompressing every layer of the image to /dev/null with zcat / zstd -dc, measured in the
// same run; and how fast the explorer moves its selection (#5).
import { join } from 'node:path';
import { ratioTarget, rssTarget, summarise } from './benchReport.mjs';
import { explorerRows } from './explorerBench.mjs';
import { writeLayeredImage } from './layeredImage.mjs';
import { blobPath, imageManifest } from './ociManifest.mjs';
import { benchCase, runRounds } from './runRounds.mjs';

const REF = 'layered';

/** The blob files of the image's layers with the command that decompresses each. */
function layerBlobs(ociDir, ref) {
  return imageManifest(ociDir, ref).layers.map((layer) => {
    const decompressor = layer.mediaType.endsWith('+zstd') ? 'zstd -dc' : layer.mediaType.endsWith('+gzip') ? 'zcat' : 'cat';
    return `${decompressor} '${blobPath(ociDir, layer.digest)}'`;
  });
}

function imageCases(ctx, { key, label, ociDir, ref, tsdiveArgs }) {
  const layers = layerBlobs(ociDir, ref);
  return {
    explorer: { key, label, tsdiveArgs, layers: layers.length },
    cases: [
      benchCase({ key: `${key}-decompress`, tool: 'zcat/zstd', caseName: `${label}: decompress all ${layers.length} layer${layers.length === 1 ? '' : 's'} to /dev/null`,
        root: join(ctx.work, key, 'decompress'), argv: () => ['sh', '-c', `(${layers.join(' && ')}) > /dev/null`] }),
      benchCase({ key: `${key}-tsdive`, tool: 'tsdive', caseName: `${label}: --json /dev/null`, anchor: `${key}-decompress`,
        root: join(ctx.work, key, 'tsdive'), argv: () => ['node', ctx.tsdiveBin, '--json', '/dev/null', ...tsdiveArgs] }),
    ],
  };
}

export async function diveGroup(ctx) {
  const layers = Math.round(ctx.positiveEnv('BENCH_DIVE_LAYERS', 20));
  const files = Math.round(ctx.positiveEnv('BENCH_DIVE_FILES', 200000));
  const layoutDir = ctx.lowercase(join(ctx.work, 'layered-image'));
  ctx.progress(`writing a ${layers}-layer image of ${files} files under ${layoutDir}`);
  const written = writeLayeredImage(layoutDir, { layers, files, ref: REF });
  const image = ctx.nginxImage ?? ctx.debianBase().image;
  const images = [
    imageCases(ctx, { key: 'dive-image', label: image.label.replace(/ \(.*\)$/, ''), ociDir: join(image.store, 'oci'), ref: image.name,
      tsdiveArgs: ['--root', image.store, image.name] }),
    imageCases(ctx, { key: 'dive-layered', label: `generated, ${layers} layers, ${written} files`, ociDir: layoutDir, ref: REF,
      tsdiveArgs: [`oci:${layoutDir}:${REF}`] }),
  ];
  const cases = images.flatMap((i) => i.cases);
  await runRounds(cases, ctx);
  const explorer = await explorerRows(ctx, images.map((i) => i.explorer));
  const rows = [...cases.map(summarise), ...explorer.rows];
  return {
    title: 'tsdive --json and the explorer against plain decompression (#5)',
    parameters: `${image.label}, and a generated OCI layout (bench/layeredImage.mjs): ${layers} gzip layers, ${written} new files `
      + '(1 B-1.1 KiB, half text, half random hex), each layer after the first also rewriting 100 files and deleting 50 of the layer before.',
    rows,
    extra: explorer.extra,
    targets: [
      ratioTarget(rows, 'dive-image-tsdive', 1.5, 'tsdive (#5)'),
      ratioTarget(rows, 'dive-layered-tsdive', 1.5, 'tsdive (#5)'),
      rssTarget(rows.filter((r) => r.key.endsWith('-tsdive')), 400e6, 'tsdive (#5)', 'both tsdive --json rows', '400 MB'),
      ratioTarget(rows, 'dive-image-tui', 1.5, 'tsdive (#5)'),
      ratioTarget(rows, 'dive-layered-tui', 1.5, 'tsdive (#5)'),
      ...explorer.targets,
    ],
  };
}
