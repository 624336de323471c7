/**
 * Byte sizes written and read the way dive does (it uses go-humanize), so
 * reports and thresholds read the same in both tools: SI units, `32 kB`,
 * `6.4 kB`, `20 MB`.
 */
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** Go's %.0f rounds exact halves to even; JavaScript's toFixed rounds them up. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

export function formatBytes(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const exponent = Math.floor(Math.log(bytes) / Math.log(1000));
  const value = Math.floor((bytes / 1000 ** exponent) * 10 + 0.5) / 10;
  return value < 10 ? `${value.toFixed(1)} ${UNITS[exponent]}` : `${roundHalfEven(value)} ${UNITS[exponent]}`;
}

const MULTIPLIERS: Record<string, number> = { '': 1, b: 1 };
for (const [i, unit] of ['k', 'm', 'g', 't', 'p', 'e'].entries()) {
  MULTIPLIERS[unit] = MULTIPLIERS[`${unit}b`] = 1000 ** (i + 1);
  MULTIPLIERS[`${unit}i`] = MULTIPLIERS[`${unit}ib`] = 1024 ** (i + 1);
}

/** Parses `20MB`, `20 mb`, `1.5GiB`, `1,000` (units are case-insensitive); undefined when it is not a size. */
export function parseBytes(text: string): number | undefined {
  const match = /^([0-9.,]*)(.*)$/s.exec(text)!;
  const number = match[1]!.replaceAll(',', '');
  if (!/^(\d+\.?\d*|\.\d+)$/.test(number)) return undefined;
  const multiplier = MULTIPLIERS[match[2]!.trim().toLowerCase()];
  if (multiplier === undefined) return undefined;
  return Math.floor(Number(number) * multiplier);
}
