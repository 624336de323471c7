import { Command, Option } from 'commander';
import { analyzeImage } from '../analysis/analyzeImage.js';
import { diffImages } from '../diff/diffImages.js';
import { formatDiff } from '../diff/formatDiff.js';
import { openImageSource } from './imageSource.js';

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
