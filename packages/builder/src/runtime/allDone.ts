/**
 * Waits for every one of `work`, then throws the first failure, or gives
 * their values: independent steps run side by side, and a rollback after one
 * failed never races another still going.
 */
export async function allDone<T extends readonly unknown[]>(work: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const outcomes = await Promise.allSettled(work);
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
