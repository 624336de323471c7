import { ContainerError } from './containerError.js';

/** Times in the log and in `--since`/`--until` compare as nanoseconds since the epoch: conmon writes nanoseconds. */
export type EpochNanos = bigint;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const UNIX_SECONDS = /^(\d+)(?:\.(\d{1,9}))?$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
const UNIT_NANOS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function fractionNanos(digits: string | undefined): bigint {
  return BigInt((digits ?? '').padEnd(9, '0'));
}

/**
 * A log record's time (RFC 3339 with nanoseconds, as conmon writes it), or a
 * date and time given by a person; without a zone it is local time, as docker reads it.
 */
export function parseTimestamp(text: string): EpochNanos | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  let ms: number;
  if (zone === undefined) {
    const local = new Date(...fields);
    if (local.getMonth() !== fields[1] || local.getDate() !== fields[2]) return undefined;
    ms = local.getTime();
  } else {
    const utc = new Date(Date.UTC(...fields));
    if (utc.getUTCMonth() !== fields[1] || utc.getUTCDate() !== fields[2]) return undefined;
    ms = utc.getTime();
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    }
  }
  if (Number.isNaN(ms) || fields[3] > 23 || fields[4] > 59 || fields[5] > 60) return undefined;
  return BigInt(ms) * 1_000_000n + fractionNanos(frac);
}

/** Go's time.ParseDuration for unsigned durations (`24h`, `1h30m`), in nanoseconds; undefined when it is none. */
export function parseDuration(text: string): number | undefined {
  DURATION_PART.lastIndex = 0;
  let nanos = 0;
  let m: RegExpExecArray | null;
  while ((m = DURATION_PART.exec(text))) {
    nanos += Number(m[1]) * UNIT_NANOS[m[2]!]!;
    if (DURATION_PART.lastIndex === text.length) return nanos;
  }
  return undefined;
}

/** `--since`/`--until`: an RFC 3339 timestamp, Unix seconds (with a fraction), or a duration such as 10m or 1h30m before `now`. */
export function parseLogTimeBound(flag: string, text: string, now: Date): EpochNanos {
  const unix = UNIX_SECONDS.exec(text);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + fractionNanos(unix[2]);
  const stamp = parseTimestamp(text);
  if (stamp !== undefined) return stamp;
  const ago = parseDuration(text);
  if (ago !== undefined) return BigInt(now.getTime()) * 1_000_000n - BigInt(Math.round(ago));
  throw new ContainerError('invalid-option', `invalid ${flag} ${JSON.stringify(text)}: expected a timestamp (2006-01-02T15:04:05Z), Unix seconds or a duration (10m, 1h30m)`);
}
