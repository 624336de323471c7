import { describe, expect, it } from 'vitest';
import { ContainerError, parseLogTimeBound, parseTimestamp } from '@tsbuild/builder';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const nowNanos = BigInt(NOW.getTime()) * 1_000_000n;

describe('log times', () => {
  it('reads conmon\'s RFC 3339 nanosecond times, with any offset', () => {
    expect(parseTimestamp('2026-01-02T03:04:05.123456789+00:00')).toBe(nowNanos + 123_456_789n);
    expect(parseTimestamp('2026-01-02T05:04:05.5+02:00')).toBe(nowNanos + 500_000_000n);
    expect(parseTimestamp('2026-01-01T22:04:05Z')).toBe(nowNanos - 5n * 3600n * 1_000_000_000n);
    expect(parseTimestamp('stdout')).toBeUndefined();
  });

  it('reads --since as docker does: timestamp, Unix seconds or a duration before now', () => {
    expect(parseLogTimeBound('--since', '2026-01-02T03:04:05Z', NOW)).toBe(nowNanos);
    expect(parseLogTimeBound('--since', String(NOW.getTime() / 1000), NOW)).toBe(nowNanos);
    expect(parseLogTimeBound('--since', '1767323045.25', NOW)).toBe(nowNanos + 250_000_000n);
    expect(parseLogTimeBound('--since', '10m', NOW)).toBe(nowNanos - 600n * 1_000_000_000n);
    expect(parseLogTimeBound('--since', '1h30m', NOW)).toBe(nowNanos - 5400n * 1_000_000_000n);
    expect(parseLogTimeBound('--since', '1.5s', NOW)).toBe(nowNanos - 1_500_000_000n);
    expect(parseLogTimeBound('--since', '2026-01-02T03:04:05', NOW)).toBe(BigInt(new Date(2026, 0, 2, 3, 4, 5).getTime()) * 1_000_000n);
  });

  it('refuses anything else with a one-line error', () => {
    for (const bad of ['yesterday', '10x', '1h30', '', '2026-13-45', 'm']) {
      expect(() => parseLogTimeBound('--since', bad, NOW)).toThrow(ContainerError);
    }
  });
});
