/**
 * Runs a generator's work a slice of a few milliseconds at a time, each
 * slice in its own turn of the event loop, so that keys are handled between
 * slices; `runUntil` does at once what is needed sooner. Slices are timers,
 * not immediates: react renders in an immediate, so the frame for a key
 * comes before the next slice.
 */
export class SlicedTask {
  private finished = false;
  private next: NodeJS.Timeout | undefined;

  constructor(private readonly steps: Generator<void, void>, private readonly sliceMs = 8) {}

  get done(): boolean {
    return this.finished;
  }

  /** Works in the background from the next turn on, until done or cancelled. */
  start(): void {
    const slice = () => {
      const until = performance.now() + this.sliceMs;
      while (!this.finished && performance.now() < until) this.step();
      this.next = this.finished ? undefined : setTimeout(slice, 0);
    };
    this.next ??= setTimeout(slice, 0);
  }

  /** Works now until `ready()` holds or there is nothing left to do. */
  runUntil(ready: () => boolean): void {
    while (!this.finished && !ready()) this.step();
  }

  cancel(): void {
    if (this.next) clearTimeout(this.next);
    this.next = undefined;
  }

  private step(): void {
    if (this.steps.next().done) this.finished = true;
  }
}
