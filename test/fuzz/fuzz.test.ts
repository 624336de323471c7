import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign, type TargetResult } from './campaign.mjs';
import { KNOWN_AFTER_MERGE } from './knownAfterMerge.mjs';
import { TARGET_SPECS } from './targetSpecs.mjs';

/**
 * The short, fixed-seed fuzz run: the same inputs every time, so a failure
 * here is a regression. The failure names the saved input; replay it with
 * `npm run fuzz -- --target T --replay FILE`. `npm run fuzz` is the long run
 * with new seeds. Targets run in child processes on the built
 * packages (dist/, which `npm test` builds first), so a hang can be killed.
 *
 * Left out until the branches fixing them merge (knownAfterMerge.mjs): the
 * mutation classes and checks in KNOWN_AFTER_MERGE. Delete an entry there to
 * have this run cover it again.
 */
const SEED = 20260;
const INPUTS_PER_TARGET = 300;
/** Hang detection only: a healthy input takes milliseconds; this is far beyond, so a slow shared machine never trips it. */
const TIMEOUT_MS = 15_000;
/** Where a failing input is written, for `npm run fuzz -- --target T --replay FILE`. */
const FINDINGS_DIR = join(tmpdir(), 'tsbuild-fuzz-findings');

describe('fuzz (short fixed-seed run)', () => {
  for (const [target, spec] of Object.entries(TARGET_SPECS)) {
    const count = spec.shortRunInputs ?? INPUTS_PER_TARGET;
    it(`${target}: never hangs or crashes, throws only typed errors, keeps its other properties`, async () => {
      const [result] = (await runCampaign({
        targets: [target],
        count,
        seed: SEED,
        timeoutMs: TIMEOUT_MS,
        skip: KNOWN_AFTER_MERGE,
        crashDir: FINDINGS_DIR,
        maxFindings: 5,
      })) as [TargetResult];
      expect(result.findings.map((f) => `#${f.index} ${f.kind}: ${f.message} (${f.recipe}; input saved as ${f.file ?? 'a repeat'})`)).toEqual([]);
      expect(result.inputs).toBe(count);
    });
  }
});
