import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  writeImageManifest,
  type Compression, type ContainerConfig, type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type LocalStore,
} from '@tsbuild/oci-layout';
import { BuildContext } from '../context/buildContext.js';
import { chooseIgnoreFile, parseDockerignore } from '../dockerfile/dockerignore.js';
import { DockerfileError, type Instruction } from '../dockerfile/instructions.js';
import { parseDockerfile, parseOnbuildTriggers } from '../dockerfile/parseDockerfile.js';
import { planBuild, type PlannedStage } from '../dockerfile/buildPlan.js';
import { StageState } from '../dockerfile/stageState.js';
import { CopyPlanner } from './copyPlanner.js';
import { ImageFilesystem } from './imageFilesystem.js';
import { loadFilesystem, storeLayer } from './layerStore.js';
import { hostPlatform } from './platform.js';
import { resolveOwner } from './resolveOwner.js';

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
  /** Progress lines (`STEP 2/5: COPY ...`). */
  log: (line: string) => void;
}

export interface BuildResult {
  digest: Digest;
  names: string[];
  warnings: string[];
}

interface StageResult {
  config: ImageConfig;
  layers: Descriptor[];
  fs: ImageFilesystem;
}

/** Instructions this slice cannot execute are refused before any work is done. */
function refuseUnsupported(instr: Instruction): void {
  if (instr.keyword === 'RUN') {
    throw new DockerfileError('executing commands is not supported yet (RUN arrives with the runc executor)', instr.location, 'RUN');
  }
  if ((instr.keyword === 'COPY' || instr.keyword === 'ADD') && instr.from !== undefined) {
    throw new DockerfileError('--from is not supported yet', instr.location, instr.keyword);
  }
  if (instr.keyword === 'ADD' && instr.sources.some((s) => /^(https?|git):\/\//.test(s) || s.startsWith('git@'))) {
    throw new DockerfileError('remote ADD sources are not supported yet', instr.location, 'ADD');
  }
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

  const now = req.sourceDateEpoch ?? Math.floor(Date.now() / 1000);
  const created = new Date(now * 1000).toISOString();
  const totalSteps = plan.stages.reduce((n, s) => n + 1 + s.stage.instructions.length, 0);
  let stepNumber = 0;
  const results = new Map<number, StageResult>();

  return store.lease(async () => {
    let last: StageResult | undefined;
    for (const planned of plan.stages) {
      req.log(`STEP ${++stepNumber}/${totalSteps}: ${planned.stage.from.original}`);
      const result = await startStage(store, planned, results, created);
      const state = new StageState({
        ...(planned.base.kind === 'scratch' ? {} : { base: result.config.config ?? {} }),
        globalArgs: plan.globalArgs,
        buildArgs: plan.buildArgs,
        escape: plan.escape,
      });
      // A base image's ONBUILD triggers run first, as if written right after FROM.
      const triggers = parseOnbuildTriggers(state.inheritedTriggers, planned.stage.from.location);
      for (const trigger of triggers) refuseUnsupported(trigger);
      for (const instr of [...triggers, ...planned.stage.instructions]) {
        req.log(triggers.includes(instr) ? `--> ONBUILD ${instr.original}` : `STEP ${++stepNumber}/${totalSteps}: ${instr.original}`);
        await runStep(store, req, { state, instr, result, context, now, created }).catch((e: Error) => {
          throw e instanceof DockerfileError ? e : new DockerfileError(e.message, instr.location, instr.keyword);
        });
      }
      result.config.config = finalConfig(state.config, req.labels);
      if (state.author) result.config.author = state.author;
      results.set(planned.stage.index, result);
      last = result;
    }
    const final = last!;
    const descriptor = await writeImageManifest(store.layout, final.config, final.layers);
    const names = req.tags.length > 0 ? await store.tag(descriptor, req.tags) : [];
    if (names.length === 0) await store.keepUnnamed(descriptor);
    for (const name of names) req.log(`COMMIT ${name}`);
    return { digest: descriptor.digest, names, warnings: plan.warnings };
  });
}

function finalConfig(config: ContainerConfig, labels: Record<string, string>): ContainerConfig {
  if (Object.keys(labels).length === 0) return config;
  return { ...config, Labels: { ...config.Labels, ...labels } };
}

async function startStage(store: LocalStore, planned: PlannedStage, done: Map<number, StageResult>, created: string): Promise<StageResult> {
  const platform = hostPlatform();
  const base = planned.base;
  if (base.kind === 'stage') {
    const parent = done.get(base.index)!;
    const fs = new ImageFilesystem();
    fs.copyFrom(parent.fs);
    return { config: structuredClone(parent.config), layers: [...parent.layers], fs };
  }
  if (base.kind === 'scratch') {
    return { config: { created, ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [], fs: new ImageFilesystem() };
  }
  const image = await store.readImage(base.ref, platform).catch((e: Error) => {
    throw new DockerfileError(`base image "${base.ref}": ${e.message}`, planned.stage.from.location, 'FROM');
  });
  const fs = new ImageFilesystem();
  await loadFilesystem(image, fs);
  const config = structuredClone(image.config);
  config.created = created;
  config.history ??= [];
  return { config, layers: image.manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })), fs };
}

interface StepInput {
  state: StageState;
  instr: Exclude<Instruction, { keyword: 'FROM' }>;
  result: StageResult;
  context: BuildContext;
  now: number;
  created: string;
}

async function runStep(store: LocalStore, req: BuildRequest, input: StepInput): Promise<void> {
  const { state, instr, result, context, now, created } = input;
  const step = state.apply(instr);
  const history = (createdBy: string, emptyLayer: boolean): HistoryEntry => ({
    created, created_by: createdBy, comment: 'tsbuild', ...(emptyLayer ? { empty_layer: true } : {}),
  });
  const timing = { now, scratchDir: store.tmpDir, ...(req.sourceDateEpoch !== undefined ? { clampTo: req.sourceDateEpoch } : {}) };
  const addLayer = async (planner: CopyPlanner, entries: Awaited<ReturnType<CopyPlanner['plan']>>, createdBy: string) => {
    try {
      const { descriptor, diffId } = await storeLayer(store, entries, req.compression);
      result.layers.push(descriptor);
      result.config.rootfs.diff_ids.push(diffId);
      result.config.history!.push(history(createdBy, false));
    } finally {
      await planner.cleanup();
    }
  };
  switch (step.kind) {
    case 'config':
      if (step.createdBy !== undefined) result.config.history!.push(history(step.createdBy, true));
      return;
    case 'workdir': {
      if (result.fs.isDirectory(step.path)) {
        result.config.history!.push(history(step.createdBy, true));
        return;
      }
      const owner = step.user ? await resolveOwner(step.user, result.fs) : undefined;
      const planner = new CopyPlanner(result.fs, context, timing);
      await addLayer(planner, planner.mkdir(step.path, owner), step.createdBy);
      return;
    }
    case 'copy': {
      const op = step.op;
      const owner = op.chown ? await resolveOwner(op.chown, result.fs) : undefined;
      const planner = new CopyPlanner(result.fs, context, timing);
      const entries = await planner.plan({
        isAdd: op.isAdd, sources: op.sources, heredocs: op.heredocs, dest: op.dest,
        ...(owner ? { owner } : {}), ...(op.chmod !== undefined ? { chmod: op.chmod } : {}),
      }).catch(async (e: unknown) => {
        await planner.cleanup();
        throw e;
      });
      await addLayer(planner, entries, step.createdBy);
      return;
    }
    case 'run':
      throw new DockerfileError('executing commands is not supported yet', step.op.location, 'RUN');
  }
}
