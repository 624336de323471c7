import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { hostPlatform, imageFormatAnnotations, withAnnotations, type LocalStore } from '@tsbuild/oci-layout';
import { BuildContext } from '../context/buildContext.js';
import { chooseIgnoreFile, parseDockerignore } from '../dockerfile/dockerignore.js';
import { parseDockerfile } from '../dockerfile/parseDockerfile.js';
import { planBuild } from '../dockerfile/buildPlan.js';
import { ExpansionBudget } from '../dockerfile/stageState.js';
import { storeImage } from '../layers/layerStore.js';
import { CacheLayerRefusedError } from '../cache/cacheSources.js';
import { SharedCache } from '../cache/sharedCache.js';
import type { BuildRequest, BuildResult } from './buildRequest.js';
import { platformOf, refuseUnexecutable } from './executablePlan.js';
import { ImageLookups } from './imageLookups.js';
import { Build, type StageResult } from './stageBuild.js';

/** Builds a Dockerfile into an image in the store and names it. */
export async function buildImage(store: LocalStore, req: BuildRequest): Promise<BuildResult> {
  const contextDir = resolve(req.contextDir);
  const dockerfilePath = resolve(req.dockerfile ?? join(contextDir, 'Dockerfile'));
  const shownPath = req.dockerfileText !== undefined ? '<stdin>' : relative(process.cwd(), dockerfilePath) || dockerfilePath;
  const source = req.dockerfileText ?? await readFile(dockerfilePath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read Dockerfile ${shownPath}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const dockerfile = parseDockerfile(source, shownPath);
  const host = hostPlatform();
  const platform = req.platform ?? host;
  const plan = planBuild(dockerfile, { buildArgs: req.buildArgs, platform, buildPlatform: host, ...(req.target ? { target: req.target } : {}) });
  refuseUnexecutable(plan.stages, platform, host);

  const ignoreFile = chooseIgnoreFile(contextDir, dockerfilePath, (p) => existsSync(p));
  const ignore = ignoreFile ? parseDockerignore(await readFile(ignoreFile, 'utf8'), relative(process.cwd(), ignoreFile) || ignoreFile) : undefined;
  const context = await BuildContext.open(contextDir, ignore);
  const warnings = [...plan.warnings];
  const warn = req.warn ?? ((line: string) => void warnings.push(line));
  return store.lease(async () => {
    const images = new ImageLookups(store, req);
    const first = plan.stages[0]!;
    // Asked for while the shared caches are read: both are round trips to a registry, and FROM needs it first.
    if (first.base.kind === 'image') images.prefetch(first.base.ref, platformOf(first, platform));
    try {
      const shared = await SharedCache.open(store, { ...req, ...(req.noCache ? { cacheFrom: [] } : {}), platform, warn });
      try {
        // A cache layer refused on the way (damaged, gone) makes its step miss; the build starts over, finding what it did meanwhile in the store.
        for (;;) {
          const build = new Build(store, req, dockerfile, context, plan.stages.reduce((n, s) => n + 1 + s.stage.instructions.length, 0), shared.sources, images, plan.stages.at(-1)!.stage.index);
          let last: StageResult | undefined;
          const expansions = new ExpansionBudget();
          try {
            for (const planned of plan.stages) {
              last = await build.stage(planned, { globalArgs: plan.globalArgs, buildArgs: plan.buildArgs, escape: plan.escape, expansions });
            }
            await shared.sources.ensure(last!.image.layers);
          } catch (e) {
            if (!(e instanceof CacheLayerRefusedError)) throw e;
            warn(`${e.message}; building its step again`);
            shared.sources.refuse(e.digest);
            continue;
          } finally {
            await build.cleanup();
          }
          const image = withAnnotations(shared.finalImage(last!.image, build.records, last!.key), imageFormatAnnotations(req.format ?? 'oci'));
          const descriptor = await storeImage(store, image);
          const names = req.tags.length > 0 ? await store.tag(descriptor, req.tags) : [];
          if (names.length === 0) await store.keepUnnamed(descriptor);
          for (const name of names) req.log(`COMMIT ${name}`);
          await shared.export(build.records, last!.key);
          return { digest: descriptor.digest, descriptor, image, names, warnings, ...(req.explainCache ? { cache: build.explainer.report } : {}) };
        }
      } finally {
        await shared.close();
      }
    } finally {
      // A pull no step reached (the build failed before) still ends before the build does.
      await images.settled();
    }
  });
}

