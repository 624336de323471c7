const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal sizes with three significant digits, as docker and podman print them (`1.23MB`). */
export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))}${UNITS[unit]}`;
}

/** `5 minutes ago`, as `docker images` shows CREATED. */
export function humanAge(created: Date, now = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - created.getTime()) / 1000));
  const steps: [number, string][] = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, name] of steps) {
    if (value < size) {
      const n = Math.floor(value);
      return n <= 1 && name === 'second' ? 'Less than a second ago' : `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
    value /= size;
  }
  return 'a long time ago';
}
