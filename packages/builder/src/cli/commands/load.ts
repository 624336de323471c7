import type { Command } from 'commander';
import {
  copyImage, copySource, formatImageName, layoutSource, NotADockerArchiveError, OciLayoutDestination, openDockerArchive, openOciArchiveLayout,
  parseImageName, REF_NAME_ANNOTATION, type Descriptor, type LocalStore,
} from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';

/** Stores what the copy wrote under `names`, or keeps it untagged when the archive gave none (as docker load does). */
function storeDestination(store: LocalStore, names: string[], loaded: string[]): OciLayoutDestination {
  return new OciLayoutDestination(store.layout, async (d: Descriptor) => {
    if (names.length === 0) {
      await store.keepUnnamed(d);
      loaded.push(`Loaded image ID: ${d.digest}`);
      return;
    }
    for (const name of await store.tag(d, names)) loaded.push(`Loaded image: ${name}`);
  });
}

/** Every image of a `docker save` / `podman save` archive; its RepoTags are docker references (`alpine` is docker.io/library/alpine). */
async function loadDockerArchive(store: LocalStore, file: string, loaded: string[]): Promise<void> {
  const first = await openDockerArchive(file, 0);
  for (let i = 0; i < first.imageCount; i++) {
    const image = i === 0 ? first : await openDockerArchive(file, i);
    const names = image.repoTags.map((tag) => formatImageName(parseImageName(tag, 'docker.io')));
    await copyImage(image, storeDestination(store, names, loaded));
  }
}

/** Every image of an oci-archive's index.json, named by its ref.name annotation. */
async function loadOciArchive(store: LocalStore, file: string, loaded: string[]): Promise<void> {
  const { layout, close } = await openOciArchiveLayout(file, store.tmpDir);
  try {
    for (const entry of (await layout.readIndex()).manifests) {
      const ref = entry.annotations?.[REF_NAME_ANNOTATION];
      await copySource(await layoutSource(layout, entry), storeDestination(store, ref ? [ref] : [], loaded));
    }
  } finally {
    await close();
  }
}

export function loadCommand(program: Command): void {
  withRootOption(program.command('load'))
    .description('read images from a docker-archive (docker save, podman save) or an oci-archive, told apart by content')
    .requiredOption('-i, --input <file>', 'archive to read')
    .action(async (opts: { input: string }, cmd: Command) => {
      const store = await openStore(cmd);
      const loaded: string[] = [];
      await store.lease(async () => {
        try {
          await loadDockerArchive(store, opts.input, loaded);
        } catch (e) {
          if (!(e instanceof NotADockerArchiveError)) throw e;
          await loadOciArchive(store, opts.input, loaded);
        }
      });
      for (const line of loaded) process.stdout.write(`${line}\n`);
    });
}
