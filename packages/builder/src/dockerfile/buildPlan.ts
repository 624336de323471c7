/**
 * Which stages a build needs and in what order, with BuildKit's rules for global ARGs
 * (usable in FROM), the automatic platform ARGs, stage references by name or index, and
 * the target stage.
 */
import { DockerfileError, type Dockerfile, type Stage } from './instructions.js';
import { expandWord, ExpansionError } from './shellWords.js';
import { mountSourceStage } from './runMount.js';
import { formatPlatform, InvalidPlatformError, parsePlatform, type Platform } from '@tsbuild/oci-layout';

export type StageBase = { kind: 'scratch' } | { kind: 'image'; ref: string } | { kind: 'stage'; index: number };

export interface PlannedStage {
  index: number;
  name?: string;
  stage: Stage;
  /** FROM with global ARGs expanded. */
  base: StageBase;
  /** `FROM --platform=`, expanded and parsed, if given. */
  platform?: Platform;
  /** Indexes of earlier stages this one reads: its FROM, COPY --from, RUN --mount from=. */
  dependsOn: number[];
  /** COPY --from / RUN --mount from= values that name no stage: images to pull. */
  imageSources: string[];
}

export interface BuildPlan {
  /** Index of the target stage. */
  target: number;
  /** Needed stages in an order that builds dependencies first (ascending index). */
  stages: PlannedStage[];
  /** Pass these to StageState: the global ARG scope (incl. platform args), build args, escape. */
  globalArgs: Record<string, string>;
  buildArgs: Record<string, string>;
  escape: string;
  warnings: string[];
}

export interface PlanOptions {
  buildArgs: Record<string, string>;
  target?: string;
  platform: Platform;
  /** Platform of the machine building; defaults to `platform`. */
  buildPlatform?: Platform;
}

/** Build args BuildKit accepts without an ARG declaring them. */
const BUILTIN_ARGS = new Set([
  'HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY',
  'http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy',
  'SOURCE_DATE_EPOCH',
]);

function platformArgs(target: Platform, build: Platform, targetStage: string): [string, string][] {
  return [
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage],
  ];
}

function findTarget(df: Dockerfile, target: string | undefined): number {
  if (target === undefined || target === '') return df.stages.length - 1;
  const byName = df.stages.find((s) => s.from.name === target.toLowerCase());
  if (byName) return byName.index;
  if (/^\d+$/.test(target) && Number(target) < df.stages.length) return Number(target);
  const names = df.stages.flatMap((s) => (s.from.name ? [s.from.name] : []));
  throw new DockerfileError(`target stage "${target}" could not be found${names.length ? ` (stages: ${names.join(', ')})` : ''}`);
}

export function planBuild(df: Dockerfile, opts: PlanOptions): BuildPlan {
  const target = findTarget(df, opts.target);
  const targetName = df.stages[target]!.from.name ?? 'default';

  const global = new Map<string, string>();
  for (const [k, v] of platformArgs(opts.platform, opts.buildPlatform ?? opts.platform, targetName)) {
    global.set(k, Object.hasOwn(opts.buildArgs, k) ? opts.buildArgs[k]! : v);
  }
  const lookup = (name: string) => global.get(name);
  const expand = (word: string, at: { location: Dockerfile['stages'][number]['from']['location']; keyword: string }) => {
    try {
      return expandWord(word, lookup, df.escape);
    } catch (e) {
      if (e instanceof ExpansionError) throw new DockerfileError(e.message, at.location, at.keyword);
      throw e;
    }
  };

  const declared = new Set<string>();
  for (const argInstr of df.globalArgs) {
    for (const a of argInstr.args) {
      declared.add(a.key);
      if (Object.hasOwn(opts.buildArgs, a.key)) global.set(a.key, opts.buildArgs[a.key]!);
      else if (a.value !== undefined) global.set(a.key, expand(a.value, argInstr));
    }
  }

  const planned: PlannedStage[] = df.stages.map((stage) => {
    const from = stage.from;
    const image = expand(from.image, from);
    if (image === '') throw new DockerfileError(`base name (${from.image}) should not be blank`, from.location, 'FROM');
    const baseStage = df.stages.find((s) => s.index < stage.index && s.from.name === image);
    const base: StageBase = baseStage
      ? { kind: 'stage', index: baseStage.index }
      : image === 'scratch'
        ? { kind: 'scratch' }
        : { kind: 'image', ref: image };
    const p: PlannedStage = { index: stage.index, stage, base, dependsOn: [], imageSources: [] };
    if (from.name) p.name = from.name;
    if (from.platform !== undefined) {
      const platform = expand(from.platform, from);
      if (platform === '') throw new DockerfileError(`empty platform value from expression ${from.platform}`, from.location, 'FROM');
      try {
        p.platform = parsePlatform(platform);
      } catch (e) {
        if (e instanceof InvalidPlatformError) throw new DockerfileError(e.message, from.location, 'FROM');
        throw e;
      }
    }
    if (baseStage) p.dependsOn.push(baseStage.index);
    return p;
  });

  for (const p of planned) {
    for (const instr of p.stage.instructions) {
      const refs: string[] = [];
      if (instr.keyword === 'COPY' && instr.from !== undefined) refs.push(instr.from);
      if (instr.keyword === 'RUN') {
        for (const m of instr.mounts) {
          const from = mountSourceStage(m);
          if (from !== undefined) refs.push(from);
        }
      }
      for (const ref of refs) {
        const dep = resolveStageRef(df, ref);
        if (dep === undefined) {
          if (!p.imageSources.includes(ref)) p.imageSources.push(ref);
          continue;
        }
        if (dep >= p.index) {
          throw new DockerfileError(
            dep === p.index
              ? `circular dependency detected on stage: ${ref}`
              : `cannot copy from stage "${ref}", it needs to be defined before current stage "${p.name ?? `stage-${p.index}`}"`,
            instr.location,
            instr.keyword,
          );
        }
        if (!p.dependsOn.includes(dep)) p.dependsOn.push(dep);
      }
    }
  }

  const needed = new Set<number>();
  const visit = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of planned[i]!.dependsOn) visit(d);
  };
  visit(target);
  const stages = planned.filter((p) => needed.has(p.index));

  for (const p of stages) {
    for (const instr of p.stage.instructions) {
      if (instr.keyword === 'ARG') for (const a of instr.args) declared.add(a.key);
    }
  }
  const platformNames = new Set(platformArgs(opts.platform, opts.platform, '').map(([k]) => k));
  const unused = Object.keys(opts.buildArgs)
    .filter((k) => !declared.has(k) && !BUILTIN_ARGS.has(k) && !platformNames.has(k) && !k.startsWith('BUILDKIT_'))
    .sort();
  const warnings = unused.length > 0 ? [`One or more build-args [${unused.join(' ')}] were not consumed`] : [];

  return {
    target,
    stages,
    globalArgs: Object.fromEntries(global),
    buildArgs: { ...opts.buildArgs },
    escape: df.escape,
    warnings,
  };
}

/** A `--from` value as a stage index: a stage name, or a number; undefined means an image. */
export function resolveStageRef(df: Dockerfile, ref: string): number | undefined {
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= df.stages.length) throw new DockerfileError(`invalid stage index ${ref}: there are ${df.stages.length} stages`);
    return i;
  }
  return df.stages.find((s) => s.from.name === ref.toLowerCase())?.index;
}
