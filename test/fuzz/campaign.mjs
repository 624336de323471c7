/**
 * A fuzz campaign: generates inputs from each target's seed corpus with a
 * deterministic PRNG and stacked mutations, runs each in a killable child
 * process with a time budget, and records every finding (hang, crash, untyped
 * error, escape, chunking difference) with the input written to a file.
 */
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inputSeed, Prng } from './prng.mjs';
import { TARGET_SPECS } from './targetSpecs.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
/** Inputs larger than this are cut: bigger ones find nothing new and slow the run. */
const MAX_INPUT = 256 * 1024;

/** The seed inputs of a target: its corpus directory, then the shared fixtures it names. */
export async function loadSeeds(spec) {
  const seeds = [];
  for (const dir of spec.corpora) {
    const corpus = join(HERE, 'corpus', dir);
    for (const name of (await readdir(corpus)).sort()) seeds.push({ name: `corpus/${dir}/${name}`, data: await readFile(join(corpus, name)) });
  }
  for (const path of await spec.fixtureSeeds(join(REPO_ROOT, '..', 'shared', 'fixtures'))) seeds.push({ name: relative(join(REPO_ROOT, '..'), path), data: await readFile(path) });
  return seeds;
}

/** Input `index` of a run: the seeds themselves first, then stacked mutations of them. */
export function makeInput(spec, seeds, runSeed, index, mutators) {
  if (index < seeds.length) return { data: seeds[index].data, recipe: `seed ${seeds[index].name}` };
  const rng = new Prng(inputSeed(runSeed, spec.name, index));
  const seed = rng.pick(seeds);
  const ctx = { seeds: seeds.map((s) => s.data) };
  let data = seed.data;
  const steps = [];
  for (let n = rng.between(1, 4); n > 0; n--) {
    const mutator = rng.pick(mutators);
    data = mutator.apply(rng, data, ctx);
    steps.push(mutator.name);
    if (data.length > MAX_INPUT) data = data.subarray(0, MAX_INPUT);
  }
  return { data, recipe: `${seed.name} + ${steps.join(', ')}` };
}

/** The child process that runs one target; restarted after a hang or crash. */
class TargetChild {
  constructor(target, workDir, skip = []) {
    this.target = target;
    this.workDir = workDir;
    this.skip = skip;
    this.nextId = 0;
  }

  async start() {
    this.stderr = '';
    this.child = fork(join(HERE, 'targetProcess.mjs'), [], {
      cwd: REPO_ROOT,
      env: { ...process.env, FUZZ_TARGET: this.target, FUZZ_WORK_DIR: this.workDir, FUZZ_SKIP: this.skip.join(',') },
      execArgv: ['--max-old-space-size=512'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
    await new Promise((resolve, reject) => {
      this.child.once('message', resolve);
      this.child.once('exit', (code, signal) => reject(new Error(`fuzz child for ${this.target} exited at start (${code ?? signal}): ${this.stderr}`)));
    });
  }

  /** Runs one input; resolves to a finding or undefined. */
  run(input, timeoutMs) {
    const id = this.nextId++;
    const child = this.child;
    return new Promise((resolve) => {
      const done = (finding) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(finding);
      };
      const onMessage = (message) => {
        if (message.id === id) done(message.finding);
      };
      const onExit = (code, signal) => {
        this.child = undefined;
        done({ kind: 'crash', message: `the target process died (${signal ?? `exit ${code}`}): ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` });
      };
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        child.kill('SIGKILL');
        this.child = undefined;
        done({ kind: 'hang', message: `no result within ${timeoutMs} ms` });
      }, timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ id, input });
    });
  }

  async ensureRunning() {
    if (!this.child) await this.start();
  }

  stop() {
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }
}

/**
 * Runs `count` inputs (or until `seconds` pass) against each target.
 * `skip` names, per target, mutations and checks (`check:...`) to leave out;
 * `maxFindings` stops a target early (a test need not wait out many hangs).
 * @param {{ targets: string[], count: number, seconds?: number, seed: number, timeoutMs: number, crashDir?: string,
 *   skip?: Record<string, string[]>, maxFindings?: number, log?: (line: string) => void }} options
 */
export async function runCampaign(options) {
  const log = options.log ?? (() => undefined);
  const workDir = await mkdtemp(join(tmpdir(), 'tsbuild-fuzz-'));
  const results = [];
  try {
    for (const name of options.targets) {
      const spec = TARGET_SPECS[name];
      if (!spec) throw new Error(`unknown fuzz target "${name}" (targets: ${Object.keys(TARGET_SPECS).join(', ')})`);
      results.push(await fuzzTarget(spec, options, workDir, log));
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return results;
}

async function fuzzTarget(spec, options, workDir, log) {
  const seeds = await loadSeeds(spec);
  const skip = new Set(options.skip?.[spec.name] ?? []);
  const mutators = spec.mutators(skip).filter((m) => !skip.has(m.name));
  const child = new TargetChild(spec.name, workDir, [...skip]);
  const findings = [];
  const started = Date.now();
  let inputs = 0;
  try {
    for (let index = 0; index < options.count; index++) {
      if (options.seconds !== undefined && Date.now() - started > options.seconds * 1000) break;
      if (options.maxFindings !== undefined && findings.length >= options.maxFindings) break;
      const input = makeInput(spec, seeds, options.seed, index, mutators);
      await child.ensureRunning();
      const finding = await child.run(input.data, options.timeoutMs);
      inputs++;
      if (finding) {
        const record = { target: spec.name, index, recipe: input.recipe, signature: signature(finding), ...finding };
        const repeats = findings.filter((f) => f.signature === record.signature).length;
        findings.push(record);
        if (repeats >= SAVED_PER_SIGNATURE) continue;
        if (options.crashDir) record.file = await saveInput(options.crashDir, spec.name, options.seed, index, input.data);
        log(`${spec.name} #${index} ${finding.kind}: ${finding.message.slice(0, 300)}\n    input: ${input.recipe}${record.file ? `\n    saved: ${record.file}\n    replay: npm run fuzz -- --target ${spec.name} --replay ${record.file}` : ''}`);
      }
    }
  } finally {
    child.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  const kinds = new Map();
  for (const f of findings) kinds.set(f.signature, (kinds.get(f.signature) ?? 0) + 1);
  log(`${spec.name}: ${inputs} inputs in ${seconds.toFixed(1)} s (${(inputs / seconds).toFixed(0)}/s), ${findings.length} findings${[...kinds].map(([sig, n]) => `\n    ${n} x ${sig}`).join('')}`);
  return { target: spec.name, inputs, seconds, findings };
}

/** Findings of one signature whose inputs are saved and printed; the rest are counted. */
const SAVED_PER_SIGNATURE = 3;

/** A finding without the particulars (paths, numbers, quoted names), so repeats of one defect group together. */
export function signature(finding) {
  const message = finding.message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b[0-9a-f]{16,}\b/g, 'HASH')
    .replace(/\/[^\s:;,)]+/g, '/…')
    .replace(/\d+/g, 'N');
  return `${finding.kind}: ${message.slice(0, 160)}`;
}

async function saveInput(dir, target, seed, index, data) {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${target}-seed${seed}-${index}.bin`);
  await writeFile(file, data);
  return file;
}

/** Runs one saved input against a target, as a campaign would. */
export async function replay(target, file, timeoutMs, skip = []) {
  if (!TARGET_SPECS[target]) throw new Error(`unknown fuzz target "${target}"`);
  const workDir = await mkdtemp(join(tmpdir(), 'tsbuild-fuzz-'));
  const child = new TargetChild(target, workDir, skip);
  try {
    await child.start();
    return await child.run(await readFile(file), timeoutMs);
  } finally {
    child.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}
