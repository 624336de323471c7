import type { Command } from 'commander';
import { createBundle, hostPlatform, parseImageLocation, type ImageLocation, type LocalStore } from '@tsbuild/oci-layout';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from '../registryOptions.js';
import { openStore, withRootOption } from '../storeOption.js';

/**
 * Unpacks the image `location` names, read where it lives (as `umoci unpack
 * --image oci:DIR:REF` does): a store image, or any copy source, its layers
 * streamed straight into the bundle without entering the store.
 */
async function bundleFrom(store: LocalStore, location: Exclude<ImageLocation, { transport: 'store' }>, dir: string, opts: RegistryOptions) {
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create({ openStore: async () => store, platform: hostPlatform(), ...(await registryTransportOptions(opts)) });
  try {
    const { source, close } = await transports.openSource(location);
    try {
      if (source.kind !== 'image') throw new Error('unexpected index');
      return await createBundle(source.image, dir);
    } finally {
      await close();
    }
  } finally {
    await transports.close();
  }
}

export function bundleCommand(program: Command): void {
  withRegistryOptions(withRootOption(program.command('bundle')), 'docker:// images')
    .description('write an OCI runtime bundle (DIR/rootfs + DIR/config.json) that `runc run -b DIR` runs')
    .argument('<image>', 'name or ID of an image in the store, or any copy source (oci:DIR[:REF], docker://REF, ...)')
    .argument('<dir>', 'bundle directory (must not exist or be empty)')
    .action(async (ref: string, dir: string, opts: RegistryOptions, cmd: Command) => {
      const location = parseImageLocation(ref);
      const store = await openStore(cmd);
      const bundle = location.transport === 'store' ? await createBundle(await store.readImage(location.name), dir) : await bundleFrom(store, location, dir, opts);
      process.stdout.write(`${bundle.configPath}\n`);
    });
}
