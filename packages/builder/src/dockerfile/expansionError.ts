/** A Dockerfile word whose variable expansion fails: bad syntax, a `${v?}` unset, or too big a result. */
export class ExpansionError extends Error {}
