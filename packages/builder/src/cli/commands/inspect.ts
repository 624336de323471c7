import type { Command } from 'commander';
import { parsePlatform, type LocalStore } from '@tsbuild/oci-layout';
import { withCredsOption } from '../credsOption.js';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from '../registryOptions.js';
import { ContainerError } from '../../runtime/containerError.js';
import { ContainerStore } from '../../runtime/containerStore.js';
import { openStore, withRootOption } from '../storeOption.js';
import { inspectContainers } from './container.js';

interface InspectOptions extends RegistryOptions {
  platform?: string;
}

/** A registry image's manifest and config, read without pulling its layers. */
async function inspectRemote(reference: string, opts: InspectOptions): Promise<unknown> {
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create({
    ...(await registryTransportOptions(opts)),
    ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
  });
  try {
    const { source, name } = await transports.openSource({ transport: 'docker', reference });
    if (source.kind !== 'image') throw new Error('unexpected index');
    const image = source.image;
    return { name, digest: image.manifestDigest, manifest: image.manifest, config: image.config };
  } finally {
    await transports.close();
  }
}

async function isContainer(store: LocalStore, ref: string): Promise<boolean> {
  try {
    await new ContainerStore(store).find(ref);
    return true;
  } catch (e) {
    if (e instanceof ContainerError && e.kind === 'not-found') return false;
    throw e;
  }
}

export function inspectCommand(program: Command): void {
  withRegistryOptions(withCredsOption(withRootOption(program.command('inspect'))), 'docker:// images')
    .description('show a container (docker inspect\'s shape) or an image\'s manifest and config as JSON')
    .argument('<image>', 'container name or ID, name or ID of an image in the store, or docker://REF for a registry image')
    .option('--platform <os/arch[/variant]>', 'for docker://: which image of a multi-platform index')
    .action(async (ref: string, opts: InspectOptions, cmd: Command) => {
      if (ref.startsWith('docker://')) {
        process.stdout.write(`${JSON.stringify(await inspectRemote(ref.slice('docker://'.length), opts), null, 2)}\n`);
        return;
      }
      const store = await openStore(cmd);
      if (await isContainer(store, ref)) {
        await inspectContainers(cmd, [ref]);
        return;
      }
      const { name, descriptor } = await store.resolve(ref);
      const image = await store.layout.readImage(descriptor);
      const out = { name, digest: image.manifestDigest, manifest: image.manifest, config: image.config };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
