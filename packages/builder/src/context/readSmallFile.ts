import { readFileInto } from '@tsbuild/oci-layout';

/** Files up to this size are read whole; larger ones are streamed. */
export const SMALL_FILE_MAX = 1 << 20;

/**
 * A small file's bytes, read as tar reads them: synchronously, no stream, no
 * promise per read, never through a symlink that took the file's place. One
 * byte more than `size` (its lstat size) is asked for, so a file that grew
 * since it was statted shows as longer than its header.
 */
export function readSmallFile(abs: string, size: number): Buffer {
  const data = Buffer.allocUnsafe(size + 1);
  return data.subarray(0, readFileInto(abs, data));
}
