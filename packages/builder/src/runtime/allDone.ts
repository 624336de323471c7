/**
 * Waits for every one of `work`, then throws the first failure: independent
 * steps run side by side, and a rollback after one failed never races
 * another still going.
 */
export async function allDone(work: Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(work)) if (outcome.status === 'rejected') throw outcome.reason;
}
