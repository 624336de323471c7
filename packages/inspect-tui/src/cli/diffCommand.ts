import { Command, Option } from 'commander';

export interface DiffOptions {
  json?: boolean;
  source?: string;
  root?: string;
}

export function diffProgram(): Command {
  return new Command('tsdive diff')
    .description('Show what changed between two images, path by path')
    .argument('<image-a>', 'the image before (docker-archive:FILE[:REF], oci:DIR[:REF], or a local store name)')
    .argument('<image-b>', 'the image after')
    .option('--json', 'print the differences as JSON')
    .addOption(new Option('--source <source>', 'where an IMAGE without transport prefix lives').choices(['store', 'docker-archive', 'oci']))
    .option('--root <dir>', 'local store root (default $TSBUILD_ROOT, else ~/.local/share/tsbuild)')
    .exitOverride();
}

/** Analyses both images (one after the other: memory holds one image's paths at a time, plus the other's) and compares them. */
export async function runDiff([a, b]: string[], opts: DiffOptions): Promise<string> {
  // Loaded only now, so that tsdive's start-up does not pay for them.
  const [{ analyzeImage }, { diffImages }, { formatDiff }, { openImageSource }] = await Promise.all([
    import('../analysis/analyzeImage.js'), import('../diff/diffImages.js'), import('../diff/formatDiff.js'), import('./imageSource.js'),
  ]);
  const analyse = async (ref: string) => {
    const source = await openImageSource(ref, opts);
    try {
      return await analyzeImage(source.image, source.layerIds ? { layerIds: source.layerIds } : {});
    } finally {
      await source.close();
    }
  };
  const diff = diffImages(await analyse(a!), await analyse(b!));
  return opts.json ? `${JSON.stringify(diff, null, 2)}\n` : formatDiff([a!, b!], diff);
}
