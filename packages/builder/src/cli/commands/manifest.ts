import type { Command } from 'commander';
import {
  isIndexMediaType, MediaType, parseImageLocation, parseIndex, type Descriptor, type Index, type LocalStore, type Platform,
} from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';
import { transfer, withTransferOptions, type TransferOptions } from '../imageTransfer.js';

/** A manifest list (OCI index) held in the store under a name. */
async function readList(store: LocalStore, ref: string): Promise<{ name: string; index: Index }> {
  const { name, descriptor } = await store.resolve(ref);
  if (!isIndexMediaType(descriptor.mediaType) || name === undefined) throw new Error(`"${ref}" is an image, not a manifest list (create one with tsbuild manifest create)`);
  return { name, index: parseIndex(await store.layout.readBlob(descriptor.digest, descriptor.size), descriptor.mediaType) };
}

/** Stores the index and points `name` at it (replacing the list it named before). */
async function writeList(store: LocalStore, name: string, index: Index): Promise<Descriptor> {
  const descriptor = await store.layout.putDocument(index, MediaType.ociIndex);
  await store.tag(descriptor, [name]);
  return descriptor;
}

interface PlatformOptions { os?: string; arch?: string; variant?: string }

/** A store image as an index entry: its platform from its config, unless the flags say otherwise (as podman manifest add --arch). */
async function listEntry(store: LocalStore, ref: string, opts: PlatformOptions): Promise<Descriptor> {
  const { descriptor } = await store.resolve(ref);
  if (isIndexMediaType(descriptor.mediaType)) throw new Error(`"${ref}" is itself a manifest list; add its images one by one`);
  const image = await store.layout.readImage(descriptor);
  const variant = opts.variant ?? image.config.variant;
  const platform: Platform = { architecture: opts.arch ?? image.config.architecture, os: opts.os ?? image.config.os, ...(variant ? { variant } : {}) };
  return { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, platform };
}

/** Adds (or, for an image already listed, replaces) entries; one entry per digest. */
function withEntries(index: Index, entries: Descriptor[]): Index {
  const digests = new Set(entries.map((e) => e.digest));
  return { ...index, manifests: [...index.manifests.filter((d) => !digests.has(d.digest)), ...entries] };
}

export function manifestCommand(program: Command): void {
  const manifest = program.command('manifest').description('multi-platform manifest lists (OCI indexes): create, add, inspect, push');
  withRootOption(manifest.command('create'))
    .description('create a manifest list in the store, optionally with images')
    .argument('<list>', 'name for the list')
    .argument('[image...]', 'images in the store to add')
    .action(async (name: string, images: string[], _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const entries = [];
      for (const image of images) entries.push(await listEntry(store, image, {}));
      const descriptor = await writeList(store, name, withEntries({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }, entries));
      process.stdout.write(`${descriptor.digest}\n`);
    });
  withRootOption(manifest.command('add'))
    .description('add an image of the store to a manifest list')
    .argument('<list>', 'the manifest list')
    .argument('<image>', 'name or ID of an image in the store')
    .option('--os <os>', 'platform OS to record (default: the image config\'s)')
    .option('--arch <arch>', 'platform architecture to record (default: the image config\'s)')
    .option('--variant <variant>', 'platform variant to record (default: the image config\'s)')
    .action(async (list: string, image: string, opts: PlatformOptions, cmd: Command) => {
      const store = await openStore(cmd);
      const { name, index } = await readList(store, list);
      const entry = await listEntry(store, image, opts);
      await writeList(store, name, withEntries(index, [entry]));
      process.stdout.write(`${entry.digest}\n`);
    });
  withRootOption(manifest.command('inspect'))
    .description('print a manifest list as JSON')
    .argument('<list>', 'the manifest list')
    .action(async (list: string, _opts: unknown, cmd: Command) => {
      const { index } = await readList(await openStore(cmd), list);
      process.stdout.write(`${JSON.stringify(index, null, 2)}\n`);
    });
  withTransferOptions(manifest.command('push'))
    .description('push a manifest list and every image it lists')
    .argument('<list>', 'the manifest list')
    .argument('<destination>', 'docker://REGISTRY/REPO[:TAG], or any copy destination')
    .action(async (list: string, destination: string, opts: TransferOptions, cmd: Command) => {
      await readList(await openStore(cmd), list);
      await transfer(cmd, { ...opts, all: true }, { transport: 'store', name: list }, parseImageLocation(destination));
    });
  for (const sub of manifest.commands) sub.exitOverride();
}
