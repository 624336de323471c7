import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import TOML from '@iarna/toml';
import { TsdiveError } from '../tsdiveError.js';
import { DEFAULT_RULE_SETTINGS, RULE_KEYS, type RuleKey, type RuleSettings } from './rules.js';

export const TSDIVE_CI_FILE = '.tsdive-ci.toml';
export const DIVE_CI_FILE = '.dive-ci';

export interface CiConfigOptions {
  /** `--ci-config FILE`: TOML when it ends in `.toml`, else dive's YAML rules file. */
  configPath?: string;
  cwd: string;
  /** Rule values given as command-line flags; they win over files. */
  flags?: Partial<Record<RuleKey, string>>;
}

export interface LoadedCiConfig {
  settings: RuleSettings;
  /** The file the rules came from, if any. */
  file?: string;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TsdiveError('ci-config', `${path}: cannot read CI config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Rules come from `--ci-config FILE`, else `.tsdive-ci.toml`, else dive's
 * `.dive-ci` in the working directory, else the defaults; flags override.
 * Keys a file leaves out keep their defaults, as in dive.
 */
export async function loadCiConfig(opts: CiConfigOptions): Promise<LoadedCiConfig> {
  const settings: RuleSettings = { ...DEFAULT_RULE_SETTINGS };
  let file: string | undefined;
  const candidates = opts.configPath ? [opts.configPath] : [join(opts.cwd, TSDIVE_CI_FILE), join(opts.cwd, DIVE_CI_FILE)];
  for (const candidate of candidates) {
    const text = await readIfPresent(candidate);
    if (text === undefined) {
      if (opts.configPath) throw new TsdiveError('ci-config', `${candidate}: CI config file not found`);
      continue;
    }
    const values = candidate.endsWith('.toml') ? tomlRules(text, candidate) : diveCiRules(text, candidate);
    for (const [key, value] of Object.entries(values) as [RuleKey, string][]) {
      settings[key] = { value, origin: `${candidate}: rules.${key}` };
    }
    file = candidate;
    break;
  }
  for (const [key, value] of Object.entries(opts.flags ?? {}) as [RuleKey, string | undefined][]) {
    if (value !== undefined) settings[key] = { value, origin: `--${key}` };
  }
  return file ? { settings, file } : { settings };
}

function isRuleKey(key: string): key is RuleKey {
  return (RULE_KEYS as readonly string[]).includes(key);
}

/**
 * `.tsdive-ci.toml`:
 *   [rules]
 *   lowestEfficiency = 0.9
 *   highestWastedBytes = "20MB"     # or "disabled" / false
 *   highestUserWastedPercent = 0.1
 */
function tomlRules(text: string, file: string): Partial<Record<RuleKey, string>> {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(text) as Record<string, unknown>;
  } catch (e) {
    const err = e as { line?: number; col?: number; message: string };
    const reason = err.message.split('\n')[0]!.replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    throw new TsdiveError('ci-config', `${file}:${(err.line ?? 0) + 1}:${(err.col ?? 0) + 1}: invalid TOML: ${reason}`);
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'rules') throw new TsdiveError('ci-config', `${file}: unknown key "${key}" (rules go in a [rules] table)`);
  }
  const rules = doc.rules ?? {};
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules) || rules instanceof Date) {
    throw new TsdiveError('ci-config', `${file}: rules must be a table`);
  }
  const out: Partial<Record<RuleKey, string>> = {};
  for (const [key, value] of Object.entries(rules)) {
    if (!isRuleKey(key)) throw new TsdiveError('ci-config', `${file}: rules.${key}: unknown rule (known: ${RULE_KEYS.join(', ')})`);
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') out[key] = String(value);
    else if (value === false) out[key] = 'disabled';
    else throw new TsdiveError('ci-config', `${file}: rules.${key}: expected a number, a string or false, got ${JSON.stringify(value)}`);
  }
  return out;
}

const DIVE_KEY_ALIASES: Record<string, RuleKey> = {
  lowestEfficiency: 'lowestEfficiency',
  'lowest-efficiency': 'lowestEfficiency',
  highestWastedBytes: 'highestWastedBytes',
  'highest-wasted-bytes': 'highestWastedBytes',
  highestUserWastedPercent: 'highestUserWastedPercent',
  'highest-user-wasted-percent': 'highestUserWastedPercent',
};

/**
 * dive's `.dive-ci` is YAML, but only its flat `rules:` block matters:
 * `  key: value` lines until the next unindented line. Other keys (dive
 * plugins) are ignored as dive ignores them.
 */
function diveCiRules(text: string, file: string): Partial<Record<RuleKey, string>> {
  const out: Partial<Record<RuleKey, string>> = {};
  let inRules = false;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      inRules = /^rules:\s*$/.test(line);
      continue;
    }
    if (!inRules) continue;
    const match = /^\s+([^:\s]+)\s*:\s*(.*)$/.exec(line);
    if (!match) throw new TsdiveError('ci-config', `${file}:${i + 1}: expected "key: value" in the rules block, got "${raw.trim()}"`);
    const key = DIVE_KEY_ALIASES[match[1]!];
    if (key) out[key] = match[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}
