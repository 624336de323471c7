import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageDestination } from '../copyImage.js';
import { digestAlgorithm, digestHex, type Digest } from '../digest.js';
import { isManifestMediaType } from '../mediaTypes.js';
import { parseManifest, type Descriptor } from '../schema.js';
import { makeTempDir, packImageArchive } from './ociArchive.js';
import { OciLayout } from '../ociLayout.js';
import { nameInLayout, OciLayoutDestination } from './ociDir.js';

function blobMember(digest: Digest): string {
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** The RepoTags of each image written (`docker save A B` puts several images, each with its tags, in one archive). */
export type RepoTagsOf = (root: Descriptor) => string[];

/**
 * `docker-archive:FILE[:REF]` as a destination, in the layout `docker save`
 * has written since Docker 25: an OCI layout whose blobs double as the
 * members manifest.json names, so `docker load`, skopeo and OCI tools all
 * read it. Layers keep their bytes (compressed or not), so digests survive.
 */
export class DockerArchiveDestination implements ImageDestination {
  readonly writesRecordedFormat = true;
  private readonly roots: { config: Descriptor; layers: Descriptor[]; repoTags: string[] }[] = [];

  private constructor(
    private readonly inner: OciLayoutDestination,
    private readonly dir: string,
    private readonly file: string,
    private readonly repoTagsOf: RepoTagsOf,
  ) {}

  /** One image named `repoTag`, or, with a RepoTagsOf, every image copied in before `commit`. */
  static async create(file: string, repoTag: string | undefined | RepoTagsOf, tmpParent?: string): Promise<DockerArchiveDestination> {
    const dir = await makeTempDir(tmpParent);
    const repoTagsOf: RepoTagsOf = typeof repoTag === 'function' ? repoTag : () => (repoTag ? [repoTag] : []);
    const layout = await OciLayout.open(join(dir, 'layout'), { create: true });
    const inner = new OciLayoutDestination(layout, async (d) => {
      const tags = repoTagsOf(d);
      for (const tag of tags.length > 0 ? tags : [undefined]) await nameInLayout(layout, d, tag);
    });
    return new DockerArchiveDestination(inner, dir, file, repoTagsOf);
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
      this.roots.push({ config: manifest.config, layers: manifest.layers, repoTags: this.repoTagsOf(descriptor) });
    }
    await this.inner.putManifest(bytes, descriptor, root);
  }

  async commit(): Promise<void> {
    if (this.roots.length === 0) throw new Error('no image was written to the docker archive');
    const entries = this.roots.map((root) => ({
      Config: blobMember(root.config.digest),
      RepoTags: root.repoTags,
      Layers: root.layers.map((l) => blobMember(l.digest)),
    }));
    await writeFile(join(this.dir, 'layout', 'manifest.json'), JSON.stringify(entries));
    await packImageArchive(join(this.dir, 'layout'), this.file);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
