import { appendFile } from 'node:fs/promises';
import { ContainerError } from '../runtime/containerError.js';

/** docker's default detach keys: ctrl-p ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** `--detach-keys ctrl-p,ctrl-q` (docker's syntax: ctrl-<letter> or a single character, comma-separated). */
export function parseDetachKeys(text: string): Buffer {
  const bytes = text.split(',').map((k) => {
    const m = /^ctrl-([a-z@\[\\\]^_])$/i.exec(k);
    if (m) return m[1]!.toUpperCase().charCodeAt(0) & 0x1f;
    if (k.length === 1) return k.charCodeAt(0);
    throw new ContainerError('invalid-option', `invalid --detach-keys ${JSON.stringify(text)}: expected e.g. ctrl-p,ctrl-q`);
  });
  return Buffer.from(bytes);
}

/**
 * Our side of an attached terminal: raw mode while attached (restored on
 * every way out, including process exit), window sizes passed to conmon's
 * control FIFO, and the detach key sequence spotted in what is typed.
 */
export class TerminalSession {
  private matched = 0;
  private readonly restore: () => void;

  constructor(
    private readonly ctlFifo: string,
    private readonly detachKeys: Buffer,
  ) {
    const stdin = process.stdin;
    const raw = stdin.isTTY === true;
    if (raw) stdin.setRawMode(true);
    const onResize = () => void this.sendSize();
    process.stdout.on('resize', onResize);
    const onExit = () => {
      if (raw) stdin.setRawMode(false);
    };
    process.once('exit', onExit);
    this.restore = () => {
      process.stdout.off('resize', onResize);
      process.off('exit', onExit);
      onExit();
    };
  }

  /** Tells conmon the size of our terminal (message type 1 on its control FIFO). */
  async sendSize(): Promise<void> {
    if (!process.stdout.isTTY) return;
    await appendFile(this.ctlFifo, `1 ${process.stdout.rows} ${process.stdout.columns}\n`);
  }

  /** True once the detach sequence has been typed in full. */
  sawDetach(chunk: Buffer): boolean {
    for (const byte of chunk) {
      this.matched = byte === this.detachKeys[this.matched] ? this.matched + 1 : byte === this.detachKeys[0] ? 1 : 0;
      if (this.matched === this.detachKeys.length) return true;
    }
    return false;
  }

  end(): void {
    this.restore();
  }
}
