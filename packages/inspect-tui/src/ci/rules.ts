import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { TsdiveError } from '../tsdiveError.js';
import { parseBytes } from './humanBytes.js';

export type RuleKey = 'lowestEfficiency' | 'highestWastedBytes' | 'highestUserWastedPercent';
export const RULE_KEYS: readonly RuleKey[] = ['lowestEfficiency', 'highestWastedBytes', 'highestUserWastedPercent'];

/** A rule's setting as written (`0.9`, `20MB`, `disabled`) and where it was written, for error messages. */
export interface RuleSetting {
  value: string;
  origin: string;
}

export type RuleSettings = Record<RuleKey, RuleSetting>;

export const DEFAULT_RULE_SETTINGS: RuleSettings = {
  lowestEfficiency: { value: '0.9', origin: 'default lowestEfficiency' },
  highestWastedBytes: { value: 'disabled', origin: 'default highestWastedBytes' },
  highestUserWastedPercent: { value: '0.1', origin: 'default highestUserWastedPercent' },
};

export interface RuleResult {
  key: RuleKey;
  status: 'PASS' | 'FAIL' | 'SKIP';
  /** The failure reason, else the configured value (as dive shows it). */
  message: string;
}

export interface CiEvaluation {
  pass: boolean;
  /** By rule name, as dive lists them. */
  results: RuleResult[];
}

export interface CiRule {
  key: RuleKey;
  configured: string;
  /** The failure reason, or undefined when the image passes; absent on disabled rules. */
  check?: (analysis: ImageAnalysis) => string | undefined;
}

function isDisabled(value: string): boolean {
  return ['', 'disabled', 'off', 'false'].includes(value.trim().toLowerCase());
}

/** Go's %2.2f. */
const twoDecimals = (n: number) => n.toFixed(2);

function ratio(setting: RuleSetting): number {
  const text = setting.value.trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) throw new TsdiveError('ci-config', `${setting.origin}: "${setting.value}" is not a number (expected a ratio between 0 and 1, or "disabled")`);
  if (n < 0 || n > 1) throw new TsdiveError('ci-config', `${setting.origin}: ${setting.value} is outside the allowed range 0-1`);
  return n;
}

function compile(key: RuleKey, setting: RuleSetting): CiRule {
  if (isDisabled(setting.value)) return { key, configured: 'disabled' };
  switch (key) {
    case 'lowestEfficiency': {
      const threshold = ratio(setting);
      return {
        key,
        configured: setting.value,
        check: (a) => (threshold > a.efficiencyScore ? `image efficiency is too low (efficiency=${twoDecimals(a.efficiencyScore)} < threshold=${threshold})` : undefined),
      };
    }
    case 'highestWastedBytes': {
      const threshold = parseBytes(setting.value.trim());
      if (threshold === undefined) throw new TsdiveError('ci-config', `${setting.origin}: "${setting.value}" is not a size (expected e.g. 20MB, 512kB, 1GiB, or "disabled")`);
      return {
        key,
        configured: setting.value,
        check: (a) => (a.wastedBytes > threshold ? `too many bytes wasted (wasted-bytes=${a.wastedBytes} > threshold=${threshold})` : undefined),
      };
    }
    case 'highestUserWastedPercent': {
      const threshold = ratio(setting);
      return {
        key,
        configured: setting.value,
        check: (a) =>
          a.userWastedPercent > threshold
            ? `too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=${twoDecimals(a.userWastedPercent)} > threshold=${threshold})`
            : undefined,
      };
    }
  }
}

/** Validates every setting up front, so a bad one is reported before any image is read. */
export function compileRules(settings: RuleSettings): CiRule[] {
  return RULE_KEYS.map((key) => compile(key, settings[key]));
}

export function evaluateRules(rules: CiRule[], analysis: ImageAnalysis): CiEvaluation {
  const results: RuleResult[] = rules.map((rule) => {
    if (!rule.check) return { key: rule.key, status: 'SKIP', message: 'disabled' };
    const failure = rule.check(analysis);
    return failure === undefined ? { key: rule.key, status: 'PASS', message: rule.configured } : { key: rule.key, status: 'FAIL', message: failure };
  });
  results.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { pass: results.every((r) => r.status !== 'FAIL'), results };
}
