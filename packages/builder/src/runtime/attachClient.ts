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
  /** Passed to the container's stdin; its end closes the container's stdin (unless conmon leaves it open). */
  stdin?: Readable;
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
  /** Looks at what is typed before it is sent; true means detach (the chunk is not sent). */
  detachOn?: (chunk: Buffer) => boolean;
}

export interface Attachment {
  /** 'exited' when conmon closed the socket (the container ended), 'detached' when the detach keys were typed. */
  done: Promise<'exited' | 'detached'>;
}

/**
 * Attaches to a container through conmon's attach socket (SOCK_SEQPACKET,
 * opened by the native addon): its output arrives as it is written, stdout
 * and stderr apart (one stream with a terminal), and our stdin is passed on.
 */
export async function attachToConmon(socketPath: string, opts: AttachOptions): Promise<Attachment> {
  const fd = fsNative().seqpacketConnect(socketPath);
  let detached = false;
  const pumpStdin = async (stdin: Readable) => {
    try {
      for await (const chunk of stdin as AsyncIterable<Buffer>) {
        if (opts.detachOn?.(chunk)) {
          detached = true;
          // Ends our blocked read below; conmon sees a client leave, the container runs on.
          fsNative().shutdownSocket(fd, true);
          return;
        }
        for (let off = 0; off < chunk.length; off += MAX_PACKET) await writeFd(fd, chunk.subarray(off, off + MAX_PACKET));
      }
      fsNative().shutdownSocket(fd, false);
    } catch (e) {
      // The container exited: conmon closed the socket (EPIPE...) or we stopped reading our stdin (premature close).
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'ENOTCONN' && code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
    }
  };
  const input = opts.stdin ? pumpStdin(opts.stdin) : Promise.resolve();
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
  const done = output.then(async () => {
    opts.stdin?.destroy();
    await input;
    await closeFd(fd);
    return detached ? ('detached' as const) : ('exited' as const);
  });
  return { done };
}
