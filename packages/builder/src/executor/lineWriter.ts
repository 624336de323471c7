/** Splits a stream of output chunks into prefixed lines. */
export function lineWriter(log: (line: string) => void, prefix: string) {
  let pending = '';
  return {
    write(chunk: Buffer) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) log(`${prefix}${line}`);
    },
    flush() {
      if (pending) log(`${prefix}${pending}`);
      pending = '';
    },
  };
}
