/**
 * Marks a promise whose rejection reaches the caller by another path (it is
 * awaited later, or the same error arrives through a stream), so Node does
 * not count it as unhandled in the meantime. It swallows nothing: the
 * promise still rejects for whoever awaits it.
 */
export function awaitedElsewhere<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
