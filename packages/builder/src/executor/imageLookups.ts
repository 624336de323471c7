import { awaitedElsewhere, formatPlatform, parseImageLocation, type ImageLocation, type LocalStore, type Platform } from '@tsbuild/oci-layout';
import type { BuildRequest } from './buildRequest.js';
import { resolveImage, type ResolvedImage } from './resolveImage.js';

/**
 * The images a build's FROM and COPY --from name, each resolved once a
 * build. The first stage's base can be asked for early (`prefetch`), while
 * the shared caches are read: both are round trips to a registry. What the
 * user sees ("Pulling", "Pulled") is said when a step first uses the image.
 */
export class ImageLookups {
  private readonly lookups = new Map<string, { resolved: Promise<ResolvedImage>; told: boolean }>();

  constructor(
    private readonly store: LocalStore,
    private readonly req: BuildRequest,
  ) {}

  /** The image a named context puts in place of `name` (`FROM name`, `COPY --from=name`). */
  private location(name: string): ImageLocation {
    const named = this.req.buildContexts?.[name];
    return named?.kind === 'image' ? named.location : parseImageLocation(name);
  }

  private lookup(ref: string, platform: Platform) {
    const key = `${ref} ${formatPlatform(platform)}`;
    let found = this.lookups.get(key);
    if (!found) {
      const options = {
        platform,
        ...(this.req.registriesConf ? { registriesConf: this.req.registriesConf } : {}),
        ...(this.req.tlsVerify !== undefined ? { tlsVerify: this.req.tlsVerify } : {}),
        ...(this.req.pull ? { pull: true } : {}),
      };
      // Whoever uses the image awaits this; a prefetched one that no step reaches (the build failed first) must not count as unhandled.
      found = { resolved: awaitedElsewhere((async () => resolveImage(this.store, this.location(ref), options))()), told: false };
      this.lookups.set(key, found);
    }
    return found;
  }

  /** Starts resolving a base the build will need. */
  prefetch(ref: string, platform: Platform): void {
    this.lookup(ref, platform);
  }

  /** `ref` resolved for a step; the first use of a pulled image says so, and says when its blobs are stored. */
  async use(ref: string, platform: Platform): Promise<ResolvedImage> {
    const found = this.lookup(ref, platform);
    const resolved = await found.resolved;
    if (resolved.pull && !found.told) {
      found.told = true;
      this.req.log(`Pulling ${resolved.pull.from}`);
      // The blobs' failure, if any, reaches the build through whatever reads them (CacheSources.ensure).
      awaitedElsewhere(resolved.pull.stored.then((name) => this.req.log(`Pulled ${name}`)));
    }
    return resolved;
  }

  /** Waits for every lookup and pull this build started, whatever became of them. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.lookups.values()].map(async ({ resolved }) => (await resolved).pull?.stored));
  }
}
