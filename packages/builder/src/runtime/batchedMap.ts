/**
 * `fn` over `items`, `size` of them side by side at a time, the results in
 * `items`' order: the round trips overlap, yet a store of thousands of
 * containers never holds a descriptor per container at once.
 */
export async function batchedMap<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
