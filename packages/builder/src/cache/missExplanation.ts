import { join, resolve } from 'node:path';
import type { Step } from '../dockerfile/stageState.js';
import { missLine, type MissReason, type StepCacheReport } from './missReason.js';
import { SourceListings, type RecordedListing } from './sourceListing.js';
import { StepRecords, type StageBase } from './stepRecords.js';
import { changedValues, inputDistance, sha256, stepInputs, type StepDescription, type StepInputs } from './stepInputs.js';

export type { StepCacheReport } from './missReason.js';
export type { StepDescription } from './stepInputs.js';

/** The parts of a build request the explainer reads. */
export interface ExplainOptions {
  /** Say why each miss missed (`--progress=plain`, `--explain-cache`); records are kept either way. */
  explainCache?: boolean;
  noCache?: boolean;
  log: (line: string) => void;
  /** Where the Dockerfile is (or the context, for one on stdin), so a stage's position is the same in the next build. */
  contextDir: string;
  dockerfile?: string;
  dockerfileText?: string;
}

/** One step as the build sees it once its key is known. */
export interface StepLookup {
  parent: string;
  key: string;
  step: Step;
  description: StepDescription;
  /** `STEP 3/7`, as progress numbers it. */
  label: string;
  /** The instruction as written (never expanded: no build arg value in it). */
  instruction: string;
}

/**
 * Keeps, for every step a build runs, a record of its inputs (names and
 * hashes, never values), and explains a miss against the nearest record:
 * one that followed the same parent, else why the parent itself changed (an
 * earlier miss, or the stage's base image), else that there is none.
 */
export class MissExplainer {
  private readonly records: StepRecords;
  private readonly listings: SourceListings;
  /** Listings of the context sources this build hashed, by digest, written if their step misses. */
  private readonly listed = new Map<string, RecordedListing>();
  /** Base keys of this build's stages, with the base the same position had before. */
  private readonly bases = new Map<string, { previous?: StageBase; current: StageBase }>();
  /** Keys this build ran, with the first miss of their chain. */
  private readonly missed = new Map<string, string>();
  readonly report: StepCacheReport[] = [];

  private readonly dockerfile: string;

  constructor(cacheDir: string, private readonly opts: ExplainOptions) {
    this.records = new StepRecords(cacheDir);
    this.listings = new SourceListings(cacheDir);
    this.dockerfile = resolve(opts.dockerfileText !== undefined ? join(opts.contextDir, '<stdin>') : opts.dockerfile ?? join(opts.contextDir, 'Dockerfile'));
  }

  noteSources(digest: string, listing: RecordedListing): void {
    this.listed.set(digest, listing);
  }

  /** A stage starts from `image` ("scratch" or a manifest digest) under `settings`; its base key is `key`. */
  async base(stage: number, key: string, image: string, settings: Record<string, unknown>): Promise<void> {
    const hashed = Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, sha256(JSON.stringify(value))]));
    const current: StageBase = { image, settings: hashed };
    const position = [this.dockerfile, stage];
    const previous = await this.records.base(position);
    if (!previous || previous.image !== image || changedValues(previous.settings, hashed).length > 0) await this.records.setBase(position, current);
    this.bases.set(key, { ...(previous ? { previous } : {}), current });
  }

  /** After the cache lookup of every step: on a miss, explains it and returns what files its record once it has run. */
  async lookedUp(s: StepLookup, hit: boolean): Promise<{ commit(): Promise<void> } | undefined> {
    if (hit) {
      if (this.opts.explainCache) this.report.push({ step: s.label, instruction: s.instruction, cached: true });
      return undefined;
    }
    const inputs = stepInputs(s.step, s.description, (digest) => this.listed.has(digest));
    for (const group of inputs.sources) {
      const listing = this.listed.get(group.digest);
      if (listing) await this.listings.ensure(group.digest, listing);
    }
    if (this.opts.explainCache) {
      const reasons = await this.explain(s, inputs);
      this.missed.set(s.key, reasons[0]?.kind === 'parent' ? reasons[0].step : s.label);
      this.opts.log(missLine(reasons));
      this.report.push({ step: s.label, instruction: s.instruction, cached: false, reasons });
    }
    return { commit: () => this.records.put(s.parent, { key: s.key, made: new Date().toISOString(), dockerfile: sha256(this.dockerfile), inputs }) };
  }

  private async explain(s: StepLookup, inputs: StepInputs): Promise<MissReason[]> {
    if (this.opts.noCache) return [{ kind: 'no-cache' }];
    if (await this.records.has(s.parent, s.key)) return [{ kind: 'layer-removed' }];
    // After a step of another kind (a step inserted, say) this one has no record to compare with.
    const siblings = (await this.records.children(s.parent)).filter((r) => r.inputs.instruction === inputs.instruction);
    if (siblings.length > 0) {
      // The nearest: one of this Dockerfile, with the fewest differing inputs, the newest.
      const own = sha256(this.dockerfile);
      const scored = siblings.map((r) => ({ r, other: r.dockerfile === own ? 0 : 1, d: inputDistance(r.inputs, inputs) }));
      scored.sort((a, b) => a.other - b.other || a.d - b.d || b.r.made.localeCompare(a.r.made));
      return this.compare(scored[0]!.r.inputs, inputs);
    }
    const first = this.missed.get(s.parent);
    if (first !== undefined) return [{ kind: 'parent', step: first }];
    const base = this.bases.get(s.parent);
    if (base?.previous) {
      const reasons: MissReason[] = [];
      if (base.previous.image !== base.current.image) reasons.push({ kind: 'base', previous: base.previous.image, current: base.current.image });
      const settings = changedValues(base.previous.settings, base.current.settings).map((n) => SETTING_FLAGS[n] ?? n);
      if (settings.length > 0) reasons.push({ kind: 'settings', names: settings });
      if (reasons.length > 0) return reasons;
    }
    return [{ kind: 'no-record' }];
  }

  private async compare(before: StepInputs, after: StepInputs): Promise<MissReason[]> {
    const reasons: MissReason[] = [];
    if (before.text !== after.text) reasons.push({ kind: 'instruction' });
    const values = changedValues(before.values, after.values);
    const withPrefix = (prefix: string) => values.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
    for (const [kind, prefix] of [['build-arg', 'arg:'], ['env', 'env:'], ['settings', 'setting:']] as const) {
      const names = withPrefix(prefix);
      if (names.length > 0) reasons.push({ kind, names });
    }
    const instruction = after.instruction;
    if (before.sources.length === after.sources.length) {
      for (let i = 0; i < after.sources.length; i++) {
        const [a, b] = [before.sources[i]!, after.sources[i]!];
        if (a.digest === b.digest) continue;
        if (!a.listed || !b.listed) {
          const step = this.missed.get(b.digest);
          reasons.push(b.listed ? { kind: 'sources', instruction, paths: [], count: null } : { kind: 'from', instruction, ...(step ? { step } : {}) });
        } else {
          const change = (await this.listings.has(a.digest)) ? await this.listings.compare(a.digest, b.digest) : undefined;
          reasons.push({ kind: 'sources', instruction, ...(change ?? { paths: [], count: null }) });
        }
      }
    }
    const remote = after.remote.filter((d, i) => before.remote[i] !== d).length;
    if (remote > 0) reasons.push({ kind: 'remote', count: remote });
    // Every input of the key is one of the above; this is for a record written by another version.
    return reasons.length > 0 ? reasons : [{ kind: 'instruction' }];
  }
}

/** The base settings of Build.start, by the flag that sets them. */
const SETTING_FLAGS: Record<string, string> = { compression: '--compression', clampTo: '--source-date-epoch', platform: '--platform' };
