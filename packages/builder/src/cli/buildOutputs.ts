import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Descriptor, ImageLocation, LocalStore } from '@tsbuild/oci-layout';
import type { ImageTransports, TransportOptions } from '@tsbuild/registry';
import type { BuildOutput } from './buildOutputOption.js';
import { copyReported, type ReportStream } from './imageTransfer.js';

export interface BuildExports {
  /** `--push`: to the registry each name says. */
  push: boolean;
  outputs: BuildOutput[];
  /** `--tls-verify`, `--registries-conf`, `--creds`, read as push reads them, before the build. */
  registry: TransportOptions;
  quiet: boolean;
}

type ImageOutput = Extract<BuildOutput, { type: 'oci' | 'docker' }>;
type Copy = (dst: ImageLocation) => Promise<void>;

/** Where an `--output` of an image type goes, as a copy destination (at `path`, for one bound for stdout). */
function imageLocation(output: ImageOutput, path = output.dest): ImageLocation {
  if (output.type === 'docker') return { transport: 'docker-archive', path };
  return { transport: output.tar ? 'oci-archive' : 'oci', path };
}

async function writeImageOutput(store: LocalStore, output: ImageOutput, copy: Copy): Promise<void> {
  if (output.dest !== '-') return copy(imageLocation(output));
  // An archive is written whole and then renamed into place, so stdout gets a finished one from scratch space.
  const scratch = await mkdtemp(join(store.tmpDir, 'output-'));
  try {
    const file = join(scratch, 'image.tar');
    await copy(imageLocation(output, file));
    await pipeline(createReadStream(file), process.stdout, { end: false });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function writeFilesystemOutput(store: LocalStore, image: Descriptor, output: Extract<BuildOutput, { type: 'local' | 'tar' }>, say: (line: string) => void): Promise<void> {
  const { exportFilesystem, exportFilesystemTar } = await import('../executor/exportFilesystem.js');
  if (output.type === 'local') {
    say(`Writing the filesystem to ${output.dest}`);
    await exportFilesystem(store, image, output.dest);
    return;
  }
  say(`Writing the filesystem as a tar to ${output.dest === '-' ? 'stdout' : output.dest}`);
  await exportFilesystemTar(store, image, output.dest === '-' ? process.stdout : output.dest);
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
  const copy: Copy = async (dst) => {
    if (!transports) {
      const { ImageTransports } = await import('@tsbuild/registry');
      transports = await ImageTransports.create({ ...exports.registry, openStore: async () => store });
    }
    await copyReported(transports, { transport: 'store', name: image.digest }, dst, { jobs: '4', quiet: exports.quiet, names }, out);
  };
  try {
    for (const output of exports.outputs) {
      if (output.type === 'oci' || output.type === 'docker') await writeImageOutput(store, output, copy);
      else await writeFilesystemOutput(store, image, output, say);
    }
    if (exports.push) for (const name of names) await copy({ transport: 'docker', reference: name });
  } finally {
    await transports?.close();
  }
}
