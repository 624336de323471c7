import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import {
  asOciImage, copyImage, copySource, formatImageName, layoutSource, makeTempDir, DockerArchiveError, OciLayoutDestination,
  openDockerArchive, openOciArchiveLayout, parseImageName, REF_NAME_ANNOTATION, type Descriptor, type LocalStore,
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
    await copyImage(asOciImage(image), storeDestination(store, names, loaded));
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
    .option('-i, --input <file>', 'archive to read (default: stdin, as docker load < FILE)')
    .action(async (opts: { input?: string }, cmd: Command) => {
      if (opts.input === undefined && process.stdin.isTTY) throw new Error('load needs an archive: -i FILE, or one on stdin');
      const store = await openStore(cmd);
      const loaded: string[] = [];
      await store.lease(async () => {
        // Archives are read by offset (docker) or unpacked (oci), so stdin is spooled to a file first.
        const spool = opts.input === undefined ? await makeTempDir(store.tmpDir) : undefined;
        const file = spool ? join(spool, 'archive.tar') : opts.input!;
        try {
          if (spool) await pipeline(process.stdin, createWriteStream(file));
          await loadDockerArchive(store, file, loaded);
        } catch (e) {
          if (!(e instanceof DockerArchiveError && e.kind === 'not-a-docker-archive')) throw e;
          await loadOciArchive(store, file, loaded);
        } finally {
          if (spool) await rm(spool, { recursive: true, force: true });
        }
      });
      for (const line of loaded) process.stdout.write(`${line}\n`);
    });
}
