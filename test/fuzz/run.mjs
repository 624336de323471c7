/**
 * `npm run fuzz`: the long fuzz run.
 *
 *   npm run fuzz -- [--target NAME]... [--count N] [--seconds S] [--seed N] [--timeout-ms MS] [--out DIR] [--skip-known]
 *   npm run fuzz -- --target NAME --replay FILE
 *
 * Environment: FUZZ_COUNT, FUZZ_SECONDS (per target), FUZZ_SEED, FUZZ_TIMEOUT_MS, FUZZ_OUT.
 * Defaults: every target, 5000 inputs each (or 120 s), a seed from the clock
 * (printed, so the run can be repeated), 2000 ms per input, findings saved
 * under fuzz-findings/. Exits 1 when something was found. --skip-known
 * leaves out what the short run leaves out (knownAfterMerge.mjs).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { REPO_ROOT, replay, runCampaign } from './campaign.mjs';
import { KNOWN_AFTER_MERGE } from './knownAfterMerge.mjs';
import { TARGET_SPECS } from './targetSpecs.mjs';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    count: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string' },
    'timeout-ms': { type: 'string' },
    out: { type: 'string' },
    replay: { type: 'string' },
    'skip-known': { type: 'boolean' },
  },
});

function integer(flag, env, fallback) {
  const text = values[flag] ?? process.env[env];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`fuzz: --${flag} (or ${env}) must be a non-negative integer, not "${text}"\n`);
    process.exit(2);
  }
  return value;
}

const timeoutMs = integer('timeout-ms', 'FUZZ_TIMEOUT_MS', 2000);

if (values.replay) {
  const [target] = values.target ?? [];
  if (!target || values.target.length !== 1) {
    process.stderr.write('fuzz: --replay needs exactly one --target\n');
    process.exit(2);
  }
  const finding = await replay(target, values.replay, timeoutMs, values['skip-known'] ? KNOWN_AFTER_MERGE[target] : []);
  process.stdout.write(finding ? `${target}: ${finding.kind}: ${finding.message}\n` : `${target}: no finding for ${values.replay}\n`);
  process.exit(finding ? 1 : 0);
}

const seed = integer('seed', 'FUZZ_SEED', Date.now() % 1_000_000_000);
const options = {
  targets: values.target ?? Object.keys(TARGET_SPECS),
  count: integer('count', 'FUZZ_COUNT', 5000),
  seconds: integer('seconds', 'FUZZ_SECONDS', 120),
  seed,
  timeoutMs,
  crashDir: values.out ?? process.env.FUZZ_OUT ?? join(REPO_ROOT, 'fuzz-findings'),
  skip: values['skip-known'] ? KNOWN_AFTER_MERGE : {},
  log: (line) => process.stdout.write(`${line}\n`),
};
process.stdout.write(`fuzz: seed ${seed}, targets ${options.targets.join(', ')}, up to ${options.count} inputs or ${options.seconds} s each, ${timeoutMs} ms per input\n`);
const results = await runCampaign(options);
const findings = results.flatMap((r) => r.findings);
process.stdout.write(`fuzz: ${findings.length} findings (repeat this run with --seed ${seed})\n`);
process.exit(findings.length > 0 ? 1 : 0);
