import type { Command } from 'commander';
import { parseImageLocation, parsePlatform, recordedManifestType, type ImageLocation, type LocalStore } from '@tsbuild/oci-layout';
import { withCredsOption } from '../credsOption.js';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from '../registryOptions.js';
import { ContainerError } from '../../runtime/containerError.js';
import { ContainerStore } from '../../runtime/containerStore.js';
import { openStore, withRootOption } from '../storeOption.js';
import { inspectContainers } from './container.js';

interface InspectOptions extends RegistryOptions {
  platform?: string;
}

/** The manifest and config of an image outside the store (a registry's, an OCI layout's, an archive's), read without its layers. */
async function inspectElsewhere(location: ImageLocation, opts: InspectOptions): Promise<unknown> {
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create({
    ...(await registryTransportOptions(opts)),
    ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
  });
  try {
    const { source, name, close } = await transports.openSource(location);
    try {
      if (source.kind !== 'image') throw new Error('unexpected index');
      const image = source.image;
      return { name, digest: image.manifestDigest, manifestType: image.manifest.mediaType, manifest: image.manifest, config: image.config };
    } finally {
      await close();
    }
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
    .argument('<image>', 'container name or ID, name or ID of an image in the store, or any copy source (docker://REF, oci:DIR[:REF], ...)')
    .option('--platform <os/arch[/variant]>', 'for docker://: which image of a multi-platform index')
    .action(async (ref: string, opts: InspectOptions, cmd: Command) => {
      const location = parseImageLocation(ref);
      if (location.transport !== 'store') {
        process.stdout.write(`${JSON.stringify(await inspectElsewhere(location, opts), null, 2)}\n`);
        return;
      }
      const store = await openStore(cmd);
      if (await isContainer(store, ref)) {
        await inspectContainers(cmd, [ref]);
        return;
      }
      const { name, descriptor } = await store.resolve(location.name);
      const image = await store.layout.readImage(descriptor);
      // podman's ManifestType: what push and save write, which for a --format docker build is schema2 while the store keeps OCI.
      const out = { name, digest: image.manifestDigest, manifestType: recordedManifestType(image.manifest), manifest: image.manifest, config: image.config };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
