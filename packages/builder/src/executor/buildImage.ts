import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  writeImageManifest,
  type Compression, type ContainerConfig, type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type LayerEntry, type LocalStore,
} from '@tsbuild/oci-layout';
import { BuildContext } from '../context/buildContext.js';
import { chooseIgnoreFile, parseDockerignore } from '../dockerfile/dockerignore.js';
import { DockerfileError, type Instruction } from '../dockerfile/instructions.js';
import { parseDockerfile, parseOnbuildTriggers } from '../dockerfile/parseDockerfile.js';
import { planBuild, type PlannedStage } from '../dockerfile/buildPlan.js';
import { StageState, type Step } from '../dockerfile/stageState.js';
import { CopyPlanner, type CopyTiming } from './copyPlanner.js';
import { ImageFilesystem } from './imageFilesystem.js';
import { loadFilesystem, storeLayer } from './layerStore.js';
import { hostPlatform } from './platform.js';
import { resolveOwner } from './resolveOwner.js';
import { runStep, type RunEnvironment } from './runStep.js';
import { Snapshotter } from './snapshotter.js';

export interface BuildRequest {
  contextDir: string;
  /** Path of the Dockerfile; default `<context>/Dockerfile`. */
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  compression: Compression;
  /** SOURCE_DATE_EPOCH: fixes `created` and clamps file mtimes, for reproducible digests. */
  sourceDateEpoch?: number;
  target?: string;
  /** `--secret id=X,src=FILE` for `RUN --mount=type=secret`. */
  secrets?: Record<string, string>;
  /** Default network for RUN steps (`RUN --network` overrides). */
  network?: 'host' | 'none';
  /** Progress lines (`STEP 2/5: COPY ...`) and RUN output, line by line. */
  log: (line: string) => void;
  /** Cancels the build (Ctrl-C); cleanup still runs. */
  signal?: AbortSignal;
}

export interface BuildResult {
  digest: Digest;
  names: string[];
  warnings: string[];
}

export class BuildInterruptedError extends Error {
  readonly exitCode = 130;
}

interface StageResult {
  config: ImageConfig;
  layers: Descriptor[];
  fs: ImageFilesystem;
}

/** Instructions this slice cannot execute are refused before any work is done. */
function refuseUnsupported(instr: Instruction): void {
  if ((instr.keyword === 'COPY' || instr.keyword === 'ADD') && instr.from !== undefined) {
    throw new DockerfileError('--from is not supported yet', instr.location, instr.keyword);
  }
  if (instr.keyword === 'ADD' && instr.sources.some((s) => /^(https?|git):\/\//.test(s) || s.startsWith('git@'))) {
    throw new DockerfileError('remote ADD sources are not supported yet', instr.location, 'ADD');
  }
}

/** Splits a stream of output chunks into prefixed lines. */
function lineWriter(log: (line: string) => void, prefix: string) {
  let pending = '';
  return {
    write(chunk: Buffer) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) log(`${prefix}${line}`);
    },
    flush() {
      if (pending) log(`${prefix}${pending}`);
      pending = '';
    },
  };
}

/** Builds a Dockerfile into an image in the store and names it. */
export async function buildImage(store: LocalStore, req: BuildRequest): Promise<BuildResult> {
  const contextDir = resolve(req.contextDir);
  const dockerfilePath = resolve(req.dockerfile ?? join(contextDir, 'Dockerfile'));
  const shownPath = relative(process.cwd(), dockerfilePath) || dockerfilePath;
  const source = await readFile(dockerfilePath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read Dockerfile ${shownPath}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const dockerfile = parseDockerfile(source, shownPath);
  const plan = planBuild(dockerfile, { buildArgs: req.buildArgs, platform: hostPlatform(), ...(req.target ? { target: req.target } : {}) });
  for (const planned of plan.stages) for (const instr of planned.stage.instructions) refuseUnsupported(instr);

  const ignoreFile = chooseIgnoreFile(contextDir, dockerfilePath, (p) => existsSync(p));
  const ignore = ignoreFile ? parseDockerignore(await readFile(ignoreFile, 'utf8')) : undefined;
  const context = await BuildContext.open(contextDir, ignore);
  const build = new Build(store, req, context, plan.stages.reduce((n, s) => n + 1 + s.stage.instructions.length, 0));

  return store.lease(async () => {
    const results = new Map<number, StageResult>();
    let last: StageResult | undefined;
    for (const planned of plan.stages) {
      last = await build.stage(planned, results, { globalArgs: plan.globalArgs, buildArgs: plan.buildArgs, escape: plan.escape });
      results.set(planned.stage.index, last);
    }
    const descriptor = await writeImageManifest(store.layout, last!.config, last!.layers);
    const names = req.tags.length > 0 ? await store.tag(descriptor, req.tags) : [];
    if (names.length === 0) await store.keepUnnamed(descriptor);
    for (const name of names) req.log(`COMMIT ${name}`);
    return { digest: descriptor.digest, names, warnings: plan.warnings };
  });
}

/** One build's shared state: where things come from and go, timing, progress. */
class Build {
  private readonly snapshotter: Snapshotter;
  private readonly now: number;
  private readonly created: string;
  private readonly timing: CopyTiming;
  private step = 0;

  constructor(
    private readonly store: LocalStore,
    private readonly req: BuildRequest,
    private readonly context: BuildContext,
    private readonly totalSteps: number,
  ) {
    this.snapshotter = new Snapshotter(join(store.cacheDir, 'snapshots'), store.tmpDir);
    this.now = req.sourceDateEpoch ?? Math.floor(Date.now() / 1000);
    this.created = new Date(this.now * 1000).toISOString();
    this.timing = { now: this.now, scratchDir: store.tmpDir, ...(req.sourceDateEpoch !== undefined ? { clampTo: req.sourceDateEpoch } : {}) };
  }

  private checkInterrupted(): void {
    if (this.req.signal?.aborted) throw new BuildInterruptedError('build interrupted');
  }

  async stage(planned: PlannedStage, done: Map<number, StageResult>, scope: { globalArgs: Record<string, string>; buildArgs: Record<string, string>; escape: string }): Promise<StageResult> {
    this.req.log(`STEP ${++this.step}/${this.totalSteps}: ${planned.stage.from.original}`);
    const result = await this.start(planned, done);
    const state = new StageState({ ...(planned.base.kind === 'scratch' ? {} : { base: result.config.config ?? {} }), ...scope });
    // A base image's ONBUILD triggers run first, as if written right after FROM.
    const triggers = parseOnbuildTriggers(state.inheritedTriggers, planned.stage.from.location);
    for (const trigger of triggers) refuseUnsupported(trigger);
    for (const instr of [...triggers, ...planned.stage.instructions]) {
      this.checkInterrupted();
      const label = triggers.includes(instr) ? 'ONBUILD' : `STEP ${++this.step}/${this.totalSteps}`;
      this.req.log(`${label}: ${instr.original}`);
      await this.execute(state.apply(instr), result, label).catch((e: Error) => {
        if (e instanceof DockerfileError || e instanceof BuildInterruptedError) throw e;
        if (this.req.signal?.aborted) throw new BuildInterruptedError('build interrupted');
        throw new DockerfileError(e.message, instr.location, instr.keyword);
      });
    }
    result.config.config = this.finalConfig(state.config);
    if (state.author) result.config.author = state.author;
    return result;
  }

  private finalConfig(config: ContainerConfig): ContainerConfig {
    if (Object.keys(this.req.labels).length === 0) return config;
    return { ...config, Labels: { ...config.Labels, ...this.req.labels } };
  }

  private async start(planned: PlannedStage, done: Map<number, StageResult>): Promise<StageResult> {
    const platform = hostPlatform();
    const base = planned.base;
    if (base.kind === 'stage') {
      const parent = done.get(base.index)!;
      const fs = new ImageFilesystem();
      fs.copyFrom(parent.fs);
      return { config: structuredClone(parent.config), layers: [...parent.layers], fs };
    }
    if (base.kind === 'scratch') {
      const config: ImageConfig = { created: this.created, ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
      return { config, layers: [], fs: new ImageFilesystem() };
    }
    const image = await this.store.readImage(base.ref, platform).catch((e: Error) => {
      throw new DockerfileError(`base image "${base.ref}": ${e.message}`, planned.stage.from.location, 'FROM');
    });
    const fs = new ImageFilesystem();
    await loadFilesystem(image, fs);
    const config = structuredClone(image.config);
    config.created = this.created;
    config.history ??= [];
    return { config, layers: image.manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })), fs };
  }

  private history(createdBy: string, emptyLayer: boolean): HistoryEntry {
    return { created: this.created, created_by: createdBy, comment: 'tsbuild', ...(emptyLayer ? { empty_layer: true } : {}) };
  }

  private addLayer(result: StageResult, layer: { descriptor: Descriptor; diffId: Digest }, createdBy: string): void {
    result.layers.push(layer.descriptor);
    result.config.rootfs.diff_ids.push(layer.diffId);
    result.config.history!.push(this.history(createdBy, false));
  }

  private async writePlanned(result: StageResult, planner: CopyPlanner, entries: Promise<LayerEntry[]> | LayerEntry[], createdBy: string): Promise<void> {
    try {
      this.addLayer(result, await storeLayer(this.store, await entries, this.req.compression), createdBy);
    } finally {
      await planner.cleanup();
    }
  }

  private async execute(step: Step, result: StageResult, label: string): Promise<void> {
    switch (step.kind) {
      case 'config':
        if (step.createdBy !== undefined) result.config.history!.push(this.history(step.createdBy, true));
        return;
      case 'workdir': {
        if (result.fs.isDirectory(step.path)) {
          result.config.history!.push(this.history(step.createdBy, true));
          return;
        }
        const owner = step.user ? await resolveOwner(step.user, result.fs) : undefined;
        const planner = new CopyPlanner(result.fs, this.context, this.timing);
        await this.writePlanned(result, planner, planner.mkdir(step.path, owner), step.createdBy);
        return;
      }
      case 'copy': {
        const op = step.op;
        const owner = op.chown ? await resolveOwner(op.chown, result.fs) : undefined;
        const planner = new CopyPlanner(result.fs, this.context, this.timing);
        const entries = planner.plan({
          isAdd: op.isAdd, sources: op.sources, heredocs: op.heredocs, dest: op.dest,
          ...(owner ? { owner } : {}), ...(op.chmod !== undefined ? { chmod: op.chmod } : {}),
        });
        await this.writePlanned(result, planner, entries, step.createdBy);
        return;
      }
      case 'run': {
        const output = lineWriter(this.req.log, `[${label}] `);
        const env: RunEnvironment = {
          store: this.store,
          snapshotter: this.snapshotter,
          compression: this.req.compression,
          contextDir: this.context.dir,
          secrets: this.req.secrets ?? {},
          output: (chunk) => output.write(chunk),
          signal: this.req.signal ?? new AbortController().signal,
          ...(this.timing.clampTo !== undefined ? { clampTo: this.timing.clampTo } : {}),
        };
        const op = this.req.network && step.op.network === undefined ? { ...step.op, network: this.req.network } : step.op;
        try {
          const layer = await runStep(env, op, { layers: result.layers, diffIds: result.config.rootfs.diff_ids }, label, (changes) => result.fs.applyLayer(changes));
          this.addLayer(result, layer, step.createdBy);
        } finally {
          output.flush();
        }
      }
    }
  }
}
