import type { Descriptor, LocalStore } from '@tsbuild/oci-layout';
import type { ImageLocation, ImageTransports, TransportOptions } from '@tsbuild/registry';
import type { BuildOutput } from './buildOutputOption.js';
import { copyReported, type ReportStream } from './commands/copy.js';

export interface BuildExports {
  /** `--push`: to the registry each name says. */
  push: boolean;
  outputs: BuildOutput[];
  /** `--tls-verify`, `--registries-conf`, `--creds`, read as push reads them, before the build. */
  registry: TransportOptions;
  quiet: boolean;
}

/** The built image as each `--output` of an image type wants it, as a copy destination. */
function imageLocation(output: Extract<BuildOutput, { type: 'oci' | 'docker' }>): ImageLocation {
  if (output.type === 'docker') return { transport: 'docker-archive', path: output.dest };
  return { transport: output.tar ? 'oci-archive' : 'oci', path: output.dest };
}

/**
 * Writes what `build` was asked for beyond the store: each `--output`, then
 * with `--push` the image to every name. Images go through the copy loop of
 * `copy` and `push` (one set of transports, so one registry session per host),
 * named by the build's tags; filesystems through the layer applier.
 * Progress goes to `out` (stderr when stdout carries an output).
 */
export async function writeBuildOutputs(store: LocalStore, image: Descriptor, names: string[], exports: BuildExports, out: ReportStream): Promise<void> {
  const say = (line: string) => {
    if (!exports.quiet) out.write(`${line}\n`);
  };
  let transports: ImageTransports | undefined;
  const copy = async (dst: ImageLocation) => {
    if (!transports) {
      const { ImageTransports } = await import('@tsbuild/registry');
      transports = await ImageTransports.create({ ...exports.registry, openStore: async () => store });
    }
    await copyReported(transports, { transport: 'store', name: image.digest }, dst, { jobs: '4', quiet: exports.quiet, names }, out);
  };
  try {
    for (const output of exports.outputs) {
      if (output.type === 'oci' || output.type === 'docker') {
        await copy(imageLocation(output));
        continue;
      }
      const { exportFilesystem, exportFilesystemTar } = await import('../executor/exportFilesystem.js');
      if (output.type === 'local') {
        say(`Writing the filesystem to ${output.dest}`);
        await exportFilesystem(store, image, output.dest);
      } else {
        say(`Writing the filesystem as a tar to ${output.dest === '-' ? 'stdout' : output.dest}`);
        await exportFilesystemTar(store, image, output.dest === '-' ? process.stdout : output.dest);
      }
    }
    if (exports.push) for (const name of names) await copy({ transport: 'docker', reference: name });
  } finally {
    await transports?.close();
  }
}
