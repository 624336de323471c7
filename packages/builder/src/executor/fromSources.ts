import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { awaitedElsewhere, type Image, type Platform } from '@tsbuild/oci-layout';
import { BuildContext } from '../context/buildContext.js';
import { parseDockerignore } from '../dockerfile/dockerignore.js';
import type { Dockerfile } from '../dockerfile/instructions.js';
import { resolveStageRef } from '../dockerfile/buildPlan.js';
import type { CacheSources } from '../cache/cacheSources.js';
import type { BuildRequest } from './buildRequest.js';
import type { ImageLookups } from './imageLookups.js';
import { ImageUnavailableError } from './resolveImage.js';
import { nearestName } from '../nearestName.js';
import type { StageResult } from './stageBuild.js';

/**
 * What a build's `--from=NAME` (COPY, RUN --mount) or FROM names: an earlier
 * stage, a named directory context (`--build-context`), or an image of the
 * store or a registry.
 */
export class FromSources {
  /** Named directory contexts opened so far, by name. */
  private readonly opened = new Map<string, BuildContext>();

  constructor(
    private readonly req: BuildRequest,
    private readonly dockerfile: Dockerfile,
    /** The build's finished stages by index. */
    private readonly results: ReadonlyMap<number, StageResult>,
    private readonly images: ImageLookups,
    private readonly cache: CacheSources,
    /** The build's target platform, for images named by `--from`. */
    private readonly platform: Platform,
  ) {}

  /** The named directory contexts opened so far. */
  namedContexts(): Iterable<BuildContext> {
    return this.opened.values();
  }

  /** A named directory context for `--from=name`, opened once with its own .dockerignore; a stage of that name wins, as in BuildKit. */
  async dirContext(from: string | undefined): Promise<BuildContext | undefined> {
    const named = from === undefined ? undefined : this.req.buildContexts?.[from];
    if (named?.kind !== 'dir' || resolveStageRef(this.dockerfile, from!) !== undefined) return undefined;
    let opened = this.opened.get(from!);
    if (!opened) {
      const ignoreFile = join(named.dir, '.dockerignore');
      const ignore = existsSync(ignoreFile) ? parseDockerignore(await readFile(ignoreFile, 'utf8')) : undefined;
      opened = await BuildContext.open(named.dir, ignore);
      this.opened.set(from!, opened);
    }
    return opened;
  }

  /** `COPY --from=NAME`: an earlier stage (by name or index) or an image from the store. */
  async copySource(from: string): Promise<{ key: string; image: Image }> {
    const index = resolveStageRef(this.dockerfile, from);
    if (index !== undefined) {
      const stage = this.results.get(index);
      if (!stage) throw new Error(`stage "${from}" has not been built`);
      return { key: stage.key, image: stage.image };
    }
    const image = await this.image(from, this.platform, (e) => {
      if (!(e instanceof ImageUnavailableError)) return e;
      const stage = nearestName(from.toLowerCase(), this.dockerfile.stages.flatMap((s) => s.from.name ?? []));
      return new Error(`--from="${from}" is neither a stage of this Dockerfile nor an image in the store or a reachable registry (pull: ${e.pullError})${
        stage ? `; did you mean the stage "${stage}"?` : e.nearest ? `; did you mean "${e.nearest}"?` : ''}`);
    });
    return { key: image.manifestDigest, image };
  }

  /**
   * The image `ref` names; a pulled image's layers go on arriving meanwhile,
   * and whatever reads them waits (CacheSources.ensure). `failure` says how
   * this use of the name reports that it cannot be had.
   */
  async image(ref: string, platform: Platform, failure: (e: Error) => Error): Promise<Image> {
    const { image, pull } = await this.images.use(ref, platform).catch((e: Error) => {
      throw failure(e);
    });
    if (pull) this.cache.arriving(image.layers, awaitedElsewhere(pull.stored.then(() => undefined, (e: Error) => {
      throw failure(e);
    })));
    return image;
  }
}
