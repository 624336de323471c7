/** `--source-date-epoch` / SOURCE_DATE_EPOCH: whole seconds since 1970. */
export function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`invalid source date epoch "${value}": expected seconds since 1970 as an integer`);
  return Number(value);
}
