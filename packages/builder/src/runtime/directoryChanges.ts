import { watch, type FSWatcher } from 'node:fs';

/**
 * Wakes a waiter when something in a directory changes, through inotify: a
 * container's directory is where conmon appends its log, replaces the log
 * when it rotates, and writes the exit file, and where tsbuild replaces the
 * state file. Waiting on that instead of sleeping between looks means an exit
 * is seen the moment its file appears.
 */
export class DirectoryChanges {
  private readonly watcher: FSWatcher | undefined;
  private changed = false;
  private wake: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, () => this.signal());
    } catch (e) {
      // Removed already (`--rm`): there is nothing left to change; every wait ends at once.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.changed = true;
      return;
    }
    // inotify failing (the directory removed under us, no watches left): waits fall back to their timeouts, slower but never wrong.
    this.watcher.on('error', () => {
      this.watcher?.close();
      this.signal();
    });
  }

  private signal(): void {
    this.changed = true;
    this.wake?.();
  }

  /**
   * Resolves once something changed since the last call (at once if it
   * already did), or after `timeoutMs`: the bound for what no file in the
   * directory tells, such as conmon killed before it could write the exit file.
   */
  async next(timeoutMs: number): Promise<void> {
    if (!this.changed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.changed = false;
  }

  close(): void {
    this.watcher?.close();
    this.wake?.();
  }
}
