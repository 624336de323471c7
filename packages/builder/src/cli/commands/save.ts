import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  DockerArchiveDestination, formatImageLocation, ImageLocationError, layoutSource, makeTempDir, nameInLayout, OciLayout, OciLayoutDestination, packImageArchive,
  copySource, parseImageLocation,
  type Descriptor, type ImageDestination, type LocalStore,
} from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';

type Chosen = Map<string, { descriptor: Descriptor; names: string[] }>;

/** The images to write, each once, with the names they were asked for by (none when asked for by ID). */
async function chosenImages(store: LocalStore, refs: string[]): Promise<Chosen> {
  const chosen: Chosen = new Map();
  for (const text of refs) {
    const location = parseImageLocation(text);
    if (location.transport !== 'store') {
      throw new ImageLocationError('invalid-location', `save writes images from the store, not ${formatImageLocation(location)} (tsbuild copy ${text} docker-archive:FILE)`);
    }
    const ref = location.name;
    const { name, descriptor } = await store.resolve(ref);
    const entry = chosen.get(descriptor.digest) ?? { descriptor, names: [] };
    const byId = descriptor.digest.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, ''));
    if (name && !byId && !entry.names.includes(name)) entry.names.push(name);
    chosen.set(descriptor.digest, entry);
  }
  return chosen;
}

/**
 * Copies every chosen image into `destination` and leaves finishing it (packing the archive once) to the caller.
 * `copying` is told the names of the image about to be written: a docker archive gets a `--format docker` image
 * as schema2, under another digest than the store's.
 */
async function copyAll(store: LocalStore, chosen: Chosen, destination: ImageDestination, copying: (names: string[]) => void): Promise<void> {
  const withoutCommit: ImageDestination = {
    hasBlob: (d) => destination.hasBlob(d),
    putBlob: (d, open) => destination.putBlob(d, open),
    putManifest: (bytes, d, root) => destination.putManifest(bytes, d, root),
    ...(destination.writesRecordedFormat ? { writesRecordedFormat: true } : {}),
  };
  for (const { descriptor, names } of chosen.values()) {
    copying(names);
    await copySource(await layoutSource(store.layout, descriptor), withoutCommit);
  }
}

export function saveCommand(program: Command): void {
  withRootOption(program.command('save'))
    .description('write images from the store to an archive that docker load, podman load and skopeo read')
    .argument('<image...>', 'names or IDs of images in the store')
    .requiredOption('-o, --output <file>', 'archive to write')
    .addOption(new Option('--format <format>', 'docker-archive (docker save\'s) or oci-archive').choices(['docker-archive', 'oci-archive']).default('docker-archive'))
    .action(async (refs: string[], opts: { output: string; format: 'docker-archive' | 'oci-archive' }, cmd: Command) => {
      const store = await openStore(cmd);
      const chosen = await chosenImages(store, refs);
      let names: string[] = [];
      const copying = (current: string[]) => void (names = current);
      if (opts.format === 'docker-archive') {
        const destination = await DockerArchiveDestination.create(opts.output, () => names, store.tmpDir);
        try {
          await copyAll(store, chosen, destination, copying);
          await destination.commit();
        } finally {
          await destination.close();
        }
        return;
      }
      const dir = await makeTempDir(store.tmpDir);
      try {
        const layout = await OciLayout.open(join(dir, 'layout'), { create: true });
        await copyAll(store, chosen, new OciLayoutDestination(layout, async (d) => {
          for (const name of names.length > 0 ? names : [undefined]) await nameInLayout(layout, d, name);
        }), copying);
        await packImageArchive(join(dir, 'layout'), opts.output);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
}
