import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageDestination } from '../copyImage.js';
import { digestAlgorithm, digestHex, type Digest } from '../digest.js';
import { isManifestMediaType } from '../mediaTypes.js';
import { parseManifest, type Descriptor } from '../schema.js';
import { makeTempDir, packImageArchive } from './ociArchive.js';
import { openOciDirDestination, type OciLayoutDestination } from './ociDir.js';

function blobMember(digest: Digest): string {
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/**
 * `docker-archive:FILE[:REF]` as a destination, in the layout `docker save`
 * has written since Docker 25: an OCI layout whose blobs double as the
 * members manifest.json names, so `docker load`, skopeo and OCI tools all
 * read it. Layers keep their bytes (compressed or not), so digests survive.
 */
export class DockerArchiveDestination implements ImageDestination {
  private root?: { config: Descriptor; layers: Descriptor[] };

  private constructor(
    private readonly inner: OciLayoutDestination,
    private readonly dir: string,
    private readonly file: string,
    private readonly repoTag: string | undefined,
  ) {}

  static async create(file: string, repoTag: string | undefined, tmpParent?: string): Promise<DockerArchiveDestination> {
    const dir = await makeTempDir(tmpParent);
    return new DockerArchiveDestination(await openOciDirDestination(join(dir, 'layout'), repoTag), dir, file, repoTag);
  }

  hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.inner.hasBlob(descriptor);
  }

  putBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void> {
    return this.inner.putBlob(descriptor, open);
  }

  async putManifest(bytes: Buffer, descriptor: Descriptor, root: boolean): Promise<void> {
    if (root) {
      if (!isManifestMediaType(descriptor.mediaType)) throw new Error('a docker archive holds single images; choose one platform (--platform) instead of --all');
      const manifest = parseManifest(bytes, descriptor.mediaType);
      this.root = { config: manifest.config, layers: manifest.layers };
    }
    await this.inner.putManifest(bytes, descriptor, root);
  }

  async commit(): Promise<void> {
    if (!this.root) throw new Error('no image was written to the docker archive');
    const entry = {
      Config: blobMember(this.root.config.digest),
      RepoTags: this.repoTag ? [this.repoTag] : [],
      Layers: this.root.layers.map((l) => blobMember(l.digest)),
    };
    await writeFile(join(this.dir, 'layout', 'manifest.json'), JSON.stringify([entry]));
    await packImageArchive(join(this.dir, 'layout'), this.file);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
