import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildImage, type BuildRequest } from '@tsbuild/builder';
import { createBundle, type ImageConfig, type LocalStore } from '@tsbuild/oci-layout';
import { describeTree, type NodeFacts } from './treeFacts.js';

export type ContextFile = string | { content: string; mode: number };

export async function writeContext(dir: string, files: Record<string, ContextFile>): Promise<void> {
  for (const [path, file] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    if (path.endsWith('/')) continue;
    await writeFile(abs, typeof file === 'string' ? file : file.content);
    if (typeof file !== 'string') await chmod(abs, file.mode);
  }
}

export interface BuiltCase {
  digest: string;
  config: ImageConfig;
  /** The image's flattened filesystem, unpacked for real. */
  tree: Record<string, NodeFacts>;
  rootfs: string;
}

/** Builds a Dockerfile over a context in `workDir`, then unpacks the result to look at it. */
export async function buildCase(
  workDir: string,
  store: LocalStore,
  files: Record<string, ContextFile>,
  dockerfile: string,
  opts: Partial<BuildRequest> = {},
): Promise<BuiltCase> {
  const context = join(workDir, 'context');
  await writeContext(context, { ...files, Dockerfile: dockerfile });
  const result = await buildImage(store, {
    contextDir: context, tags: ['case'], buildArgs: {}, labels: {}, compression: 'gzip', log: () => undefined, ...opts,
  });
  const image = await store.readImage(result.digest);
  const bundle = join(workDir, 'bundle');
  await createBundle(image, bundle, { args: ['/none'] });
  const tree = await describeTree(join(bundle, 'rootfs'));
  delete tree['.'];
  return { digest: result.digest, config: image.config, tree, rootfs: join(bundle, 'rootfs') };
}
