import { close, read, write } from 'node:fs';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { fsNative } from '@tsbuild/oci-layout';

const readFd = promisify(read);
const writeFd = promisify(write);
const closeFd = promisify(close);

/** conmon's attach framing: each packet it sends is one chunk of output, its first byte saying whose. */
const PIPE_STDOUT = 2;
const PIPE_STDERR = 3;
/** conmon reads at most this much of one packet (CONN_SOCK_BUF_SIZE); longer ones would be cut. */
const MAX_PACKET = 32 * 1024;

export interface AttachOptions {
  /** Passed to the container's stdin; its end closes the container's stdin. */
  stdin?: Readable;
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
}

async function pumpStdin(fd: number, stdin: Readable): Promise<void> {
  try {
    for await (const chunk of stdin as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += MAX_PACKET) await writeFd(fd, chunk.subarray(off, off + MAX_PACKET));
    }
    fsNative().shutdownWrite(fd);
  } catch (e) {
    // The container exited and conmon closed the socket: its stdin is gone, nothing more to send.
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE' && (e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
  }
}

/**
 * Attaches to a container through conmon's attach socket (SOCK_SEQPACKET,
 * opened by the native addon): its output arrives as it is written, stdout
 * and stderr apart, and our stdin is passed on. Resolves when conmon closes
 * the socket, which it does when the container has exited.
 */
export async function attachToConmon(socketPath: string, opts: AttachOptions): Promise<{ done: Promise<void> }> {
  const fd = fsNative().seqpacketConnect(socketPath);
  const input = opts.stdin ? pumpStdin(fd, opts.stdin) : Promise.resolve();
  const output = (async () => {
    const buf = Buffer.alloc(MAX_PACKET + 1);
    for (;;) {
      const { bytesRead } = await readFd(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      const pipe = buf[0];
      const data = Buffer.from(buf.subarray(1, bytesRead));
      if (pipe === PIPE_STDOUT) opts.onOutput('stdout', data);
      else if (pipe === PIPE_STDERR) opts.onOutput('stderr', data);
    }
  })();
  const done = output.finally(async () => {
    opts.stdin?.destroy();
    await input;
    await closeFd(fd);
  });
  return { done };
}
