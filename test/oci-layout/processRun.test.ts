import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fsNative, runProcess, spawnDetached } from '@tsbuild/oci-layout';

/** runProcess: a short tool run to its end by the addon (posix_spawn on a thread of its own). */

describe('runProcess', () => {
  it('feeds stdin, keeps stdout and stderr apart and reports the exit status', async () => {
    const r = await runProcess(['sh', '-c', 'tr a-z A-Z; echo to-stderr >&2; exit 7'], { input: 'hello\n', timeoutMs: 10_000 });
    expect(r).toMatchObject({ status: 7, signal: null, timedOut: false });
    expect(r.stdout.toString()).toBe('HELLO\n');
    expect(r.stderr.toString()).toBe('to-stderr\n');
  });

  it('gives the child the environment it is given, and nothing else', async () => {
    const r = await runProcess(['sh', '-c', 'echo "$ONLY_THIS"; env | wc -l'], { env: { ONLY_THIS: 'yes', PATH: '/usr/bin:/bin' }, timeoutMs: 10_000 });
    // sh adds PWD (and SHLVL, _) of its own.
    expect(r.stdout.toString()).toMatch(/^yes\n\s*[2-5]\n$/);
  });

  it('names the signal that ended the child', async () => {
    const r = await runProcess(['sh', '-c', 'kill -TERM $$'], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ status: null, signal: 'SIGTERM', timedOut: false });
  });

  it('kills a child that outlives its deadline instead of waiting for it', async () => {
    const r = await runProcess(['sleep', '30'], { timeoutMs: 200 });
    expect(r).toMatchObject({ status: null, signal: 'SIGKILL', timedOut: true });
  });

  it('gives stdin end of file when there is no input, so a reader of stdin ends', async () => {
    const r = await runProcess(['cat'], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ status: 0, timedOut: false });
    expect(r.stdout.length).toBe(0);
  });

  it('passes large input and output whole, and survives a child that reads none of its input', async () => {
    const big = Buffer.alloc(5 << 20, 'x');
    const echoed = await runProcess(['cat'], { input: big, timeoutMs: 30_000 });
    expect(echoed.stdout.equals(big)).toBe(true);
    const unread = await runProcess(['true'], { input: big, timeoutMs: 30_000 });
    expect(unread).toMatchObject({ status: 0, timedOut: false });
  });

  it('restores default signal dispositions (Node ignores SIGPIPE; an exec would keep that)', async () => {
    const r = await runProcess(['sh', '-c', 'grep SigIgn /proc/self/status'], { timeoutMs: 10_000 });
    const own = await new Promise<string>((resolve) => {
      const child = spawn('sh', ['-c', 'grep SigIgn /proc/self/status']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => resolve(out));
    });
    const ignored = (status: string) => BigInt(`0x${status.split(/\s+/)[1]}`);
    // glibc's posix_spawn leaves its two internal signals (32 and 33, which no program may
    // handle) ignored; apart from them, what libuv's spawn gives a child is the reference.
    const glibcInternal = (1n << 31n) | (1n << 32n);
    expect(ignored(r.stdout.toString()) & ~glibcInternal).toBe(ignored(own));
    expect(ignored(r.stdout.toString()) & (1n << 12n)).toBe(0n);
  });

  it('refuses a program that does not exist in one line, with its code', async () => {
    await expect(runProcess(['no-such-tool-for-tsbuild'], { timeoutMs: 10_000 })).rejects.toMatchObject({
      message: 'cannot run no-such-tool-for-tsbuild: No such file or directory',
      code: 'ENOENT',
    });
  });

  it('stops a child that floods its output rather than filling memory', async () => {
    await expect(runProcess(['head', '-c', String(20 << 20), '/dev/zero'], { timeoutMs: 30_000 })).rejects.toThrow(/head wrote more than 16 MiB of output; it was stopped/);
  });

  it('leaves no descriptor behind, and reaps every child (no zombie)', async () => {
    const before = (await readdir('/proc/self/fd')).length;
    await Promise.all(Array.from({ length: 40 }, (_, i) => runProcess(['sh', '-c', `echo ${i}`], { timeoutMs: 10_000 })));
    await runProcess(['sleep', '30'], { timeoutMs: 100 });
    expect((await readdir('/proc/self/fd')).length).toBe(before);
    const children = await runProcess(['sh', '-c', `ps -o stat= --ppid ${process.pid} || true`], { timeoutMs: 10_000 });
    expect(children.stdout.toString()).not.toMatch(/^Z/m);
  });

  it('checks its arguments', () => {
    expect(() => fsNative().runProcess([], [], Buffer.alloc(0), 1)).toThrow(/argv \(not empty\) and env must be arrays of strings/);
    expect(() => fsNative().runProcess(['a\0b'], [], Buffer.alloc(0), 1)).toThrow(/without NUL bytes/);
    expect(() => fsNative().runProcess(['true'], [], 'input' as unknown as Buffer, 1)).toThrow(/input/);
  });
});

/** Everything a readable end gives until its end of file. */
async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const piece of stream) text += (piece as Buffer).toString();
  return text;
}

describe('spawnDetached', () => {
  it("hands over the child's pipes both ways, stderr apart, in the directory asked for", async () => {
    const child = spawnDetached(['sh', '-c', 'read -r line <&4; echo "got $line in $(pwd)" >&3; echo complaint >&2'], { cwd: '/tmp', pipes: ['read', 'write'] });
    const [fromChild, toChild] = child.pipes;
    toChild!.end('hello\n');
    expect(await readAll(fromChild!)).toBe('got hello in /tmp\n');
    expect(await readAll(child.stderr)).toBe('complaint\n');
  });

  it('gives it a session of its own, /dev/null as stdin and stdout, and the environment asked for', async () => {
    const script = 'echo "$(cut -d" " -f6 /proc/self/stat) $$ $(readlink /proc/self/fd/0) $(readlink /proc/$$/fd/1) $ONLY" >&3';
    const child = spawnDetached(['sh', '-c', script], { cwd: '/', env: { ONLY: 'this', PATH: '/usr/bin:/bin' }, pipes: ['read'] });
    const [session, pid, stdin, stdout, only] = (await readAll(child.pipes[0]!)).trim().split(' ');
    expect(session).toBe(pid);
    expect(Number(pid)).toBe(child.pid);
    expect([stdin, stdout, only]).toEqual(['/dev/null', '/dev/null', 'this']);
    child.stderr.destroy();
  });

  it('reaps the child when it exits (no zombie), and leaves none of its fds with us', async () => {
    const before = (await readdir('/proc/self/fd')).length;
    const child = spawnDetached(['true'], { cwd: '/', pipes: ['read'] });
    await readAll(child.pipes[0]!);
    await readAll(child.stderr);
    // A zombie keeps its /proc entry until it is reaped; give the reaper up to 5 s. A reap
    // that lands while the directory is read fails the read with ESRCH: gone as well.
    const gone = () => readdir(`/proc/${child.pid}`).then(() => false, (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT' && e.code !== 'ESRCH') throw e;
      return true;
    });
    for (let i = 0; i < 250 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await gone()).toBe(true);
    expect((await readdir('/proc/self/fd')).length).toBe(before);
  });

  it('throws at once, in one line, for a program that is not there', () => {
    expect(() => spawnDetached(['no-such-daemon-for-tsbuild'], { cwd: '/', pipes: [] })).toThrow(/^cannot run no-such-daemon-for-tsbuild: No such file or directory$/);
  });
});
