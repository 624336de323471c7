import { join } from 'node:path';
import {
  appendHistory, appendLayer, assembleImage, awaitedElsewhere, hostPlatform, LayerContentError, printableText, readLayer, withConfig,
  type ContainerConfig, type Platform, type HistoryEntry, type Image, type LayerEntry, type LocalStore,
} from '@tsbuild/oci-layout';
import { BuildContext, type CopySource, type LatestChange } from '../context/buildContext.js';
import { changedSince, ContextHashStore, HashLearning } from '../context/contextHashStore.js';
import { KeyAgreement } from '../context/keptListings.js';
import { WrittenSources } from '../context/sourcesDigest.js';
import { DockerfileError, type Dockerfile } from '../dockerfile/instructions.js';
import { parseOnbuildTriggers } from '../dockerfile/parseDockerfile.js';
import type { PlannedStage } from '../dockerfile/buildPlan.js';
import { StageState, type StageStateOptions, type Step } from '../dockerfile/stageState.js';
import { CopyPlanner, type CopyReads, type CopyTiming } from './copyPlanner.js';
import { ImageFilesystem } from './imageFilesystem.js';
import { storeLayer } from '../layers/layerStore.js';
import { stepKey, type CachedStep } from '../cache/stepCache.js';
import type { CacheRecord } from '../cache/cacheManifest.js';
import { CacheLayerRefusedError, type CacheSources } from '../cache/cacheSources.js';
import { MissExplainer, type StepDescription } from '../cache/missExplanation.js';
import { RecordedListing } from '../cache/sourceListing.js';
import { resolveOwner } from './resolveOwner.js';
import { runStep, type RunEnvironment } from './runStep.js';
import { Snapshotter } from '../runtime/snapshotter.js';
import { openStageRoot } from './stageRoot.js';
import { BuildInterruptedError, type BuildRequest } from './buildRequest.js';
import { platformOf, refuseUnsupported } from './executablePlan.js';
import { lineWriter } from './lineWriter.js';
import type { ImageLookups } from './imageLookups.js';
import { RemoteDownloads } from './remoteSource.js';
import { copySources } from './copySources.js';
import { FromSources } from './fromSources.js';

/** Layers a step writes while its context sources keep changing under it, before the build gives up. */
const WRITE_ATTEMPTS = 3;

/** A step looked up: its key, and its cached result or the one executed for it, with the explanation of its miss to commit. */
interface SettledStep {
  key: string;
  hit?: CachedStep;
  executed?: Omit<CachedStep, 'created'>;
  miss?: { commit(): Promise<void> } | undefined;
}

export interface StageResult {
  /** The stage's image so far: config and layers (each with its diff_id) together. */
  image: Image;
  /** Filled in lazily: a fully cached build never reads a layer. */
  fs: ImageFilesystem;
  /** Cache key of the last step so far. */
  key: string;
  /** The target stage: every layer it has ends up in the image. */
  final?: boolean;
  /**
   * History of the steps since the last layer, not in `image` yet (foldHistory):
   * each such step assembling the image anew cost the whole config, which
   * made a Dockerfile of many LABEL or ENV lines quadratic.
   */
  history?: HistoryEntry[];
}

/** The stage's image with the history `result` holds back; nothing is held back after. */
function foldHistory(result: StageResult): Image {
  if (result.history?.length) result.image = appendHistory(result.image, ...result.history.splice(0));
  return result.image;
}

/** One build's shared state: where things come from and go, the cache, timing, progress. */
export class Build {
  private readonly snapshotter: Snapshotter;
  /** Every step of this build by key, as `--cache-to` exports it. */
  readonly records = new Map<string, CacheRecord>();
  private readonly created: string;
  private readonly timing: CopyTiming;
  /** The build's target platform, for stages whose FROM names none. */
  private readonly platform: Platform;
  private step = 0;
  /** Finished stages by index, for FROM and COPY --from. */
  private readonly results = new Map<number, StageResult>();
  private readonly downloads: RemoteDownloads;
  private readonly fileHashes: ContextHashStore;
  /** What a `--from` or a FROM names: stages, named contexts, images. */
  private readonly from: FromSources;
  readonly explainer: MissExplainer;

  constructor(
    private readonly store: LocalStore,
    private readonly req: BuildRequest,
    dockerfile: Dockerfile,
    private readonly context: BuildContext,
    private readonly totalSteps: number,
    private readonly cache: CacheSources,
    images: ImageLookups,
    private readonly targetStage: number,
  ) {
    this.snapshotter = new Snapshotter(store);
    this.downloads = new RemoteDownloads(store.tmpDir);
    this.fileHashes = new ContextHashStore(join(store.cacheDir, 'context-hashes'), join(store.cacheDir, 'context-hashes.json'));
    const now = req.sourceDateEpoch ?? Math.floor(Date.now() / 1000);
    this.created = new Date(now * 1000).toISOString();
    this.timing = { now, scratchDir: store.tmpDir, ...(req.sourceDateEpoch !== undefined ? { clampTo: req.sourceDateEpoch } : {}) };
    this.platform = req.platform ?? hostPlatform();
    this.from = new FromSources(req, dockerfile, this.results, images, cache, this.platform);
    this.explainer = new MissExplainer(store.cacheDir, req);
  }

  private checkInterrupted(): void {
    if (this.req.signal?.aborted) throw new BuildInterruptedError('build interrupted');
  }

  async stage(planned: PlannedStage, scope: Omit<StageStateOptions, 'base'>): Promise<StageResult> {
    const fromLabel = `STEP ${++this.step}/${this.totalSteps}`;
    this.req.log(`${fromLabel}: ${planned.stage.from.original}`);
    const result: StageResult = { ...(await this.start(planned)), final: planned.stage.index === this.targetStage };
    const state = new StageState({ ...(planned.base.kind === 'scratch' ? {} : { base: result.image.config.config ?? {} }), ...scope });
    // A base image's ONBUILD triggers run first, as if written right after FROM.
    const triggers = parseOnbuildTriggers(state.inheritedTriggers, planned.stage.from.location);
    for (const trigger of triggers) refuseUnsupported(trigger);
    for (const instr of [...triggers, ...planned.stage.instructions]) {
      this.checkInterrupted();
      // Triggers are known only once the base is read, so they are numbered within their FROM step.
      const trigger = triggers.indexOf(instr);
      const label = trigger >= 0 ? `${fromLabel} ONBUILD ${trigger + 1}/${triggers.length}` : `STEP ${++this.step}/${this.totalSteps}`;
      this.req.log(`${label}: ${instr.original}`);
      await this.cachedStep(state.apply(instr), result, label, instr.original).catch((e: Error) => {
        if (e instanceof DockerfileError || e instanceof BuildInterruptedError || e instanceof CacheLayerRefusedError) throw e;
        this.checkInterrupted();
        throw new DockerfileError(e.message, instr.location, instr.keyword);
      });
    }
    // The image is as old as its newest step, so a fully cached rebuild gives the same config (and digest).
    const created = foldHistory(result).config.history?.at(-1)?.created ?? this.created;
    result.image = withConfig(result.image, { config: this.finalConfig(state.config), ...(state.author ? { author: state.author } : {}), created });
    this.results.set(planned.stage.index, result);
    return result;
  }

  private finalConfig(config: ContainerConfig): ContainerConfig {
    if (Object.keys(this.req.labels).length === 0) return config;
    return { ...config, Labels: { ...config.Labels, ...this.req.labels } };
  }

  private async start(planned: PlannedStage): Promise<StageResult> {
    const platform = platformOf(planned, this.platform);
    const base = planned.base;
    // What every layer depends on beyond the steps themselves: how layers are written.
    const settings = { compression: this.req.compression, clampTo: this.timing.clampTo ?? null, platform };
    if (base.kind === 'stage') {
      const parent = this.results.get(base.index)!;
      const fs = new ImageFilesystem();
      fs.copyFrom(parent.fs);
      return { image: parent.image, fs, key: parent.key };
    }
    if (base.kind === 'scratch') {
      const image = assembleImage({ created: this.created, ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, []);
      const key = stepKey('', { base: 'scratch', settings });
      await this.explainer.base(planned.stage.index, key, 'scratch', settings);
      return { image, fs: new ImageFilesystem(), key };
    }
    const fromError = (e: Error) => new DockerfileError(`base image "${base.ref}": ${e.message}`, planned.stage.from.location, 'FROM');
    const image = await this.from.image(base.ref, platform, fromError);
    // The stage's image is an OCI image of its own: the base's layers without their annotations, its manifest's left behind.
    const layers = image.layers.map((l) => ({ descriptor: { mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size }, diffId: l.diffId, open: () => l.open() }));
    const key = stepKey('', { base: image.manifestDigest, settings });
    await this.explainer.base(planned.stage.index, key, image.manifestDigest, settings);
    return { image: assembleImage({ ...image.config, history: image.config.history ?? [] }, layers), fs: new ImageFilesystem(), key };
  }

  /** The stage's file tree, reading in the layers it does not include yet (cached steps skip this). */
  private async filesystem(result: StageResult): Promise<ImageFilesystem> {
    const unread = result.image.layers.slice(result.fs.applied);
    await this.cache.ensure(unread);
    for (const layer of unread) {
      await result.fs.applyLayer(readLayer(await layer.open()));
      result.fs.applied++;
    }
    return result.fs;
  }

  /** Everything a step's result depends on, besides the steps before it; with `unseenStops`, see hashSources. */
  private async describe(step: Step, unseenStops = false, seen?: LatestChange): Promise<StepDescription | undefined> {
    switch (step.kind) {
      case 'config':
        return { createdBy: step.createdBy ?? null };
      case 'workdir':
        return step;
      case 'copy': {
        const { op } = step;
        const named = await this.from.dirContext(op.from);
        const from = op.from === undefined || named ? undefined : await this.from.copySource(op.from);
        // Downloads first: an ADD's URLs are fetched before its context is walked.
        await this.downloads.of(op);
        // A stage or image is named by its cache key or digest: its content follows from that.
        const sources = from ? from.key : await this.hashSources(named ?? this.context, copySources(op), unseenStops, seen);
        return sources === undefined ? undefined : this.copyDescription(step, sources);
      }
      case 'run': {
        const { location: _location, ...op } = step.op;
        // What a bind mount shows is an input of the step, like a COPY's sources.
        const mounted: string[] = [];
        for (const m of op.mounts.filter((mount) => mount.type === 'bind')) {
          const named = await this.from.dirContext(m.from);
          mounted.push(m.from !== undefined && !named ? (await this.from.copySource(m.from)).key : (await this.hashSources(named ?? this.context, [{ path: m.source ?? '.' }]))!);
        }
        return { createdBy: step.createdBy, op, mounted, network: op.network ?? this.req.network ?? 'host', settings: this.req.runSettings };
      }
    }
  }

  /** A COPY/ADD's description, given its sources hash. */
  private async copyDescription(step: Extract<Step, { kind: 'copy' }>, sources: string): Promise<StepDescription> {
    const { location: _location, ...op } = step.op;
    const remote = (await this.downloads.of(step.op)).map((f) => f.digest);
    return { createdBy: step.createdBy, op, remote, sources };
  }

  /**
   * A content hash of context sources, listed as they are hashed: the explainer writes the listing if their step
   * misses. With `unseenStops`, undefined where BuildContext.hashSourcesIfSeen gives up (a context never seen).
   */
  private async hashSources(context: BuildContext, sources: CopySource[], unseenStops = false, seen?: LatestChange): Promise<string | undefined> {
    const listing = new RecordedListing();
    const digest = unseenStops
      ? await context.hashSourcesIfSeen(sources, this.fileHashes, listing.visit)
      : await context.hashSources(sources, this.fileHashes, listing.visit, seen);
    if (digest !== undefined) this.explainer.noteSources(digest, listing);
    return digest;
  }

  /**
   * The step's description; but a COPY of a context the hash store has never seen is executed first, its layer
   * writer leaving the hashes of the files it reads in the store, and described after: each file is read once, not
   * for the key and again for the layer. A COPY of one directory gets its sources hash from the layer's own entries
   * and bytes (WrittenSources); any other is described by a walk of the context, by stat alone. If the key hits,
   * `discard` drops that layer (the store's GC takes its blob) and puts the tree view back; if a source the walk
   * saw changed since the layer was begun, it is dropped at once.
   */
  private async describeOrExecute(step: Step, result: StageResult, label: string): Promise<{ description: StepDescription; executed?: Omit<CachedStep, 'created'>; discard?: () => void }> {
    if (!(await this.fromContext(step))) return { description: (await this.describe(step))! };
    const known = await this.describe(step, true);
    if (known) return { description: known };
    const before = new ImageFilesystem();
    before.copyFrom(await this.filesystem(result));
    const learning = new HashLearning(this.fileHashes);
    const listing = new RecordedListing();
    const written = new WrittenSources(listing.visit);
    const writtenFrom = Date.now();
    const executed = await this.execute(step, result, label, { learning, written });
    await learning.settled();
    const discard = () => void (result.fs = before);
    const sources = written.hex();
    if (sources !== undefined && step.kind === 'copy') {
      // The key says what the layer holds, whatever changed while it was written: nothing to check.
      this.explainer.noteSources(sources, listing);
      return { description: await this.copyDescription(step, sources), executed, discard };
    }
    const seen: LatestChange = { ctimeMs: 0 };
    const description = (await this.describe(step, false, seen))!;
    // A path changed since the layer was begun may be in it otherwise than the key says: it is written again, after the key.
    if (!changedSince(seen.ctimeMs, writtenFrom)) return { description, executed, discard };
    discard();
    return { description };
  }

  /** Whether a step is a COPY/ADD of a build context (the main one or a named one), whose files may change under the build. */
  private async fromContext(step: Step): Promise<boolean> {
    return step.kind === 'copy' && (step.op.from === undefined || (await this.from.dirContext(step.op.from)) !== undefined);
  }

  private async cachedStep(step: Step, result: StageResult, label: string, instruction: string): Promise<void> {
    const { key, hit, executed, miss } = await this.lookUpOrExecute(step, result, label, instruction);
    const done = hit ?? { created: new Date().toISOString(), ...executed! };
    if (this.req.sourceDateEpoch !== undefined) done.created = this.created;
    if (!hit) await this.cache.put(key, done);
    // What the key walks listed for this step's layer is not needed past it.
    for (const context of [this.context, ...this.from.namedContexts()]) context.forgetListings();
    this.records.set(key, { key, parent: result.key, ...done });
    await miss?.commit();
    const history: HistoryEntry = { created: done.created, created_by: step.createdBy ?? '', comment: 'tsbuild' };
    if (done.layer) result.image = appendLayer(foldHistory(result), this.store.layout.storedLayer(done.layer.descriptor, done.layer.diffId), history);
    else if (step.kind !== 'config' || step.createdBy !== undefined) (result.history ??= []).push(history);
    result.key = key;
  }

  /**
   * The step's key and its cached result, or its result executed now. A layer
   * that may hold other contents than its key says (a context source changed
   * after the key's walk saw it) is dropped, and the step is described and
   * looked up again: a wrong cache hit is the worst result a build can have.
   */
  private async lookUpOrExecute(step: Step, result: StageResult, label: string, instruction: string): Promise<SettledStep> {
    for (let attempt = 1; ; attempt++) {
      const { description, executed, discard } = await this.describeOrExecute(step, result, label);
      const key = stepKey(result.key, description);
      const hit = this.req.noCache ? undefined : await this.cache.get(key);
      if (hit) discard?.();
      if (hit && step.kind !== 'config') this.req.log('--> Using cache');
      // The image will hold this layer: an imported one starts downloading now, while the later steps are looked up.
      if (hit?.layer && result.final) awaitedElsewhere(this.cache.ensure([hit.layer]));
      // Before the step runs: a miss is explained above the step's output.
      const miss = await this.explainer.lookedUp({ parent: result.key, key, step, description, label, instruction }, hit !== undefined);
      if (hit) return { key, hit };
      if (executed) return { key, executed, miss };
      const checked = await this.executeAsKeyed(step, result, label, key);
      if ('executed' in checked) return { key, executed: checked.executed, miss };
      // The tree view took the dropped layer's entries: it is read again from the layers before it when next needed.
      result.fs = new ImageFilesystem();
      if (attempt === WRITE_ATTEMPTS) throw new LayerContentError(checked.changed, `it changed again each of the ${WRITE_ATTEMPTS} times the layer was written`);
      this.req.log(`--> ${checked.changed} changed while the layer was written: writing it again`);
    }
  }

  /** Whether a step is a RUN that bind-mounts a build context, which it may read at any time while it runs. */
  private async mountsContext(step: Step): Promise<boolean> {
    if (step.kind !== 'run') return false;
    for (const m of step.op.mounts) if (m.type === 'bind' && (m.from === undefined || (await this.from.dirContext(m.from)) !== undefined)) return true;
    return false;
  }

  /**
   * Executes a step after its key missed. A COPY of context sources reads the
   * listings its key's walk kept and checks every source it reads against them
   * (KeyAgreement); where that cannot tell, and after a RUN that mounts a
   * context, the context is walked again and must give the same key.
   * Otherwise `changed` names what changed, and the caller drops the layer.
   */
  private async executeAsKeyed(step: Step, result: StageResult, label: string, key: string): Promise<{ executed: Omit<CachedStep, 'created'> } | { changed: string }> {
    if (await this.mountsContext(step)) {
      const executed = await this.execute(step, result, label);
      if (stepKey(result.key, (await this.describe(step))!) === key) return { executed };
      return { changed: 'the build context it mounts' };
    }
    if (!(await this.fromContext(step))) return { executed: await this.execute(step, result, label) };
    const agreement = new KeyAgreement();
    let changed: string;
    try {
      const executed = await this.execute(step, result, label, { agreement });
      if (agreement.changed !== undefined) changed = `"${printableText(agreement.changed)}"`;
      else if (agreement.unchecked && stepKey(result.key, (await this.describe(step))!) !== key) changed = 'a source';
      else return { executed };
    } catch (e) {
      // A file read at another size than its listing's: it changed too, and is written again like one whose ctime moved.
      if (!(e instanceof LayerContentError)) throw e;
      changed = e.subject;
    }
    return { changed };
  }

  /** Runs a step for real; returns its layer, if it makes one. A COPY reports the context files it reads to `reads`. */
  private async execute(step: Step, result: StageResult, label: string, reads?: CopyReads): Promise<Omit<CachedStep, 'created'>> {
    switch (step.kind) {
      case 'config':
        return {};
      case 'workdir': {
        const fs = await this.filesystem(result);
        if (fs.isDirectory(step.path)) return {};
        const owner = step.user ? await resolveOwner(step.user, fs) : undefined;
        const planner = new CopyPlanner(fs, this.context, this.timing);
        return { layer: await this.writePlanned(fs, planner, planner.mkdir(step.path, owner)) };
      }
      case 'copy': {
        const op = step.op;
        const fs = await this.filesystem(result);
        const owner = op.chown ? await resolveOwner(op.chown, fs) : undefined;
        const named = await this.from.dirContext(op.from);
        const from = op.from === undefined || named ? undefined : await this.from.copySource(op.from);
        if (from) await this.cache.ensure(from.image.layers);
        const root = from ? await openStageRoot(this.store, this.snapshotter, from.image) : undefined;
        const planner = root
          ? new CopyPlanner(fs, BuildContext.imageRoot(root.dir), this.timing)
          : new CopyPlanner(fs, named ?? this.context, this.timing, reads);
        if (root) planner.onCleanup(() => root.release());
        const entries = planner.plan({
          isAdd: op.isAdd, sources: copySources(op), heredocs: op.heredocs, dest: op.dest,
          keepOwners: from !== undefined, remote: await this.downloads.of(op),
          ...(owner ? { owner } : {}), ...(op.chmod !== undefined ? { chmod: op.chmod } : {}),
        });
        return { layer: await this.writePlanned(fs, planner, entries) };
      }
      case 'run': {
        const output = lineWriter(this.req.log, `[${label}] `);
        const env: RunEnvironment = {
          store: this.store,
          snapshotter: this.snapshotter,
          compression: this.req.compression,
          contextDir: this.context.dir,
          secrets: this.req.secrets ?? {},
          openRoot: async (from) => {
            const named = await this.from.dirContext(from);
            if (named) return { dir: named.dir, release: async () => undefined };
            const source = await this.from.copySource(from);
            await this.cache.ensure(source.image.layers);
            return openStageRoot(this.store, this.snapshotter, source.image);
          },
          output: (chunk) => output.write(chunk),
          signal: this.req.signal ?? new AbortController().signal,
          ...(this.timing.clampTo !== undefined ? { clampTo: this.timing.clampTo } : {}),
          ...(this.req.runSettings ? { settings: this.req.runSettings } : {}),
        };
        const op = this.req.network && step.op.network === undefined ? { ...step.op, network: this.req.network } : step.op;
        // The tree view follows along only if it is already up to date; otherwise it reads the layer when needed.
        const upToDate = result.fs.applied === result.image.layers.length;
        await this.cache.ensure(result.image.layers);
        try {
          return {
            layer: await runStep(env, op, result.image, label, async (changes) => {
              if (!upToDate) return;
              await result.fs.applyLayer(changes);
              result.fs.applied++;
            }),
          };
        } finally {
          output.flush();
        }
      }
    }
  }

  /** Removes what the build downloaded. */
  async cleanup(): Promise<void> {
    await this.cache.settled();
    await this.downloads.remove();
  }

  private async writePlanned(fs: ImageFilesystem, planner: CopyPlanner, entries: Promise<Iterable<LayerEntry>> | Iterable<LayerEntry>) {
    try {
      const layer = await storeLayer(this.store, await entries, this.req.compression);
      fs.applied++;
      return layer;
    } finally {
      await planner.cleanup();
    }
  }
}
