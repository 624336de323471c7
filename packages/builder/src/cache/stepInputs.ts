import { createHash } from 'node:crypto';
import type { Step } from '../dockerfile/stageState.js';

/**
 * What the executor hashes into a step's key (its description), by step
 * kind. The key is `stepKey(parent, description)`; these shapes say which
 * parts are context sources and settings, so a miss can name them.
 */
export interface CopyDescription {
  createdBy: string;
  op: object;
  /** Digests of the downloaded `ADD URL` contents. */
  remote: string[];
  /** A content hash of the context sources, or the key or digest of the stage or image named by --from. */
  sources: string;
}

export interface RunDescription {
  createdBy: string;
  op: object;
  /** Per bind mount: a content hash of the context sources, or the key or digest of the stage or image it mounts. */
  mounted: string[];
  network: string;
  settings: unknown;
}

export type StepDescription = { createdBy: string | null } | Extract<Step, { kind: 'workdir' }> | CopyDescription | RunDescription;

/** One input of sources: its hash, and whether a listing of its paths can exist (context sources, not a stage or image). */
export interface SourceGroup {
  digest: string;
  listed: boolean;
}

/**
 * What went into a step's key, in a form that names inputs without holding
 * values: the instruction as one hash, each variable and setting by name with
 * a hash of its value, and the sources by content hash. Never a value.
 */
export interface StepInputs {
  /** The instruction's keyword: only a record of the same kind of step is near enough to compare. */
  instruction: string;
  /** The instruction after expansion, without the parts below. */
  text: string;
  /** `arg:NAME`, `env:NAME`, `setting:--flag` -> hash of the value. */
  values: Record<string, string>;
  sources: SourceGroup[];
  remote: string[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const UNSET = '\0unset';

/** The inputs of `step`, whose description the executor hashed into its key; `listed` tells context-source digests apart. */
export function stepInputs(step: Step, description: StepDescription, listed: (digest: string) => boolean): StepInputs {
  const group = (digest: string): SourceGroup => ({ digest, listed: listed(digest) });
  switch (step.kind) {
    case 'config': {
      // ONBUILD records no history (no createdBy).
      const instruction = step.createdBy?.split(' ')[0] ?? 'ONBUILD';
      const vars = step.variables;
      if (!vars) return { instruction, text: sha256(JSON.stringify(description)), values: {}, sources: [], remote: [] };
      const values: Record<string, string> = {};
      for (const [name, value] of vars.values) values[`${vars.kind}:${name}`] = sha256(value ?? UNSET);
      return { instruction, text: sha256(JSON.stringify([vars.kind, vars.values.map(([name]) => name)])), values, sources: [], remote: [] };
    }
    case 'workdir':
      return { instruction: 'WORKDIR', text: sha256(JSON.stringify(description)), values: {}, sources: [], remote: [] };
    case 'copy': {
      const { remote, sources, ...rest } = description as CopyDescription;
      return { instruction: step.op.isAdd ? 'ADD' : 'COPY', text: sha256(JSON.stringify(rest)), values: {}, sources: [group(sources)], remote };
    }
    case 'run': {
      const { mounted, network, settings, ...rest } = description as RunDescription;
      const values = { 'setting:--network': sha256(network), 'setting:--add-host/--ulimit/--shm-size': sha256(JSON.stringify(settings ?? null)) };
      return { instruction: 'RUN', text: sha256(JSON.stringify(rest)), values, sources: mounted.map(group), remote: [] };
    }
  }
}

/** The value names whose hashes differ between two sets (set on one side only counts). */
export function changedValues(a: Record<string, string>, b: Record<string, string>): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => a[n] !== b[n]).sort();
}

/** How many inputs differ: a rough distance, to pick the nearest of several records. */
export function inputDistance(a: StepInputs, b: StepInputs): number {
  let n = (a.text === b.text ? 0 : 1) + changedValues(a.values, b.values).length;
  const groups = Math.max(a.sources.length, b.sources.length);
  for (let i = 0; i < groups; i++) if (a.sources[i]?.digest !== b.sources[i]?.digest) n++;
  if (a.remote.join() !== b.remote.join()) n++;
  return n;
}
