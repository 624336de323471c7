import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { readdirIfExists } from '@tsbuild/oci-layout';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon', crun: 'crun' }, async () => {
  if (!(await pathExists('/usr/share/containers/seccomp.json'))) await run('apt-get', ['install', '-y', 'golang-github-containers-common']);
});

interface Inspected {
  Id: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; OOMKilled: boolean; Error: string };
  RestartCount: number;
}

async function inspect(ref: string): Promise<Inspected> {
  return (JSON.parse((await tsOk('container', 'inspect', ref)).stdout) as Inspected[])[0]!;
}

/** Polls until `check` holds; the bound is there only so a broken build fails instead of hanging. */
async function eventually<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (check(v)) return v;
    await sleep(100);
  }
  throw new Error(`never happened: ${what}`);
}

/** Nothing of container `id` is left: no state directory, mount, runc container or cgroup. */
async function expectGone(id: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(id));
  const { stdout } = await run('runc', ['list', '--format', 'json']);
  const runtime = ((JSON.parse(stdout) ?? []) as { id: string }[]).filter((c) => c.id === id);
  const cgroups = [];
  for (const controller of await readdir('/sys/fs/cgroup')) {
    if (await pathExists(join('/sys/fs/cgroup', controller, 'tsbuild', id))) cgroups.push(controller);
  }
  expect({ dir: await pathExists(join(store.root, 'containers', id)), mounts, runtime, cgroups }).toEqual({ dir: false, mounts: [], runtime: [], cgroups: [] });
}

async function containerIds(): Promise<string[]> {
  return (await readdirIfExists(join(store.root, 'containers'))).filter((n) => /^[0-9a-f]{64}$/.test(n));
}

describe('tsbuild run', () => {
  it('run --rm prints the output and leaves nothing behind', async () => {
    const before = await containerIds();
    const out = await ts('run', '--rm', 'busybox', 'echo', 'hi');
    expect(out).toMatchObject({ code: 0, stdout: 'hi\n', stderr: '' });
    expect(await containerIds()).toEqual(before);
  });

  it('rm of several containers removes each it can and reports the others in one line each, exit 1', async () => {
    await tsOk('run', '--name', 'keepgoing', '--network', 'none', 'busybox', 'true');
    const r = await ts('rm', 'no-such-container', 'keepgoing');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['tsbuild: error: no such container: no-such-container']);
    expect(r.stdout.trim()).toBe('keepgoing');
    // It is gone: removing it again is docker's one-line 'no such container', exit 125.
    expect((await ts('rm', 'keepgoing')).code).toBe(125);
  });

  it('-i without -t pipes stdin through, stdout and stderr apart; large input arrives whole', async () => {
    const out = await tsbuild(['--root', store.root, 'run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo err >&2; exit 3'], { input: 'a\nb\n' });
    expect(out).toMatchObject({ code: 3, stdout: 'a\nb\n', stderr: 'err\n' });
    const big = Buffer.alloc(300_000, 'x\n');
    const counted = await tsbuildOk(['--root', store.root, 'run', '--rm', '-i', 'busybox', 'wc', '-c'], { input: big });
    expect(counted.stdout.trim()).toBe(String(big.length));
  });

  it('exit codes come back as they are: 7, 127 not found, 126 not executable, 128+N for a signal', async () => {
    expect((await ts('run', '--rm', 'busybox', 'sh', '-c', 'exit 7')).code).toBe(7);
    const missing = await ts('run', '--rm', 'busybox', 'no-such-command');
    expect(missing.code).toBe(127);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('no-such-command');
    // The whole result, so that a failure shows the message behind the code (a 125 was seen once under heavy load).
    const notExecutable = await ts('run', '--rm', 'busybox', '/etc/passwd');
    expect({ code: notExecutable.code, stderr: notExecutable.stderr }).toMatchObject({ code: 126, stderr: expect.stringContaining('permission denied') });

    const id = (await tsOk('run', '-d', 'busybox', 'sleep', '1000')).stdout.trim();
    await tsOk('kill', '-s', 'KILL', id);
    expect((await tsOk('wait', id)).stdout).toBe('137\n');
    expect((await inspect(id)).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137 });
    await tsOk('rm', id);
    await expectGone(id);
  });

  it('a detached container: ps, logs with stdout and stderr apart, --tail, -f, wait', async () => {
    const ctl = await dirs.make();
    const script = 'echo one; echo two >&2; echo three; while [ ! -e /ctl/go ]; do sleep 0.1; done; echo four; echo five; exit 5';
    const id = (await tsOk('run', '-d', '--name', 'talker', '-v', `${ctl}:/ctl`, 'busybox', 'sh', '-c', script)).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await tsOk('ps', '-q')).stdout).toContain(id.slice(0, 12));
    const following = tsOk('logs', '-f', 'talker');
    await writeFile(join(ctl, 'go'), '');
    const followed = await following;
    expect(followed.stdout).toBe('one\nthree\nfour\nfive\n');
    expect(followed.stderr).toBe('two\n');
    expect((await tsOk('wait', 'talker')).stdout).toBe('5\n');
    const tail = await tsOk('logs', '--tail', '2', 'talker');
    expect(tail.stdout).toBe('four\nfive\n');
    expect(tail.stderr).toBe('');
    const stamped = await tsOk('logs', '-t', '--tail', '1', 'talker');
    expect(stamped.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ five\n$/);
    const listed = JSON.parse((await tsOk('ps', '-a', '--format', 'json')).stdout) as { Id: string; State: string; ExitCode: number; Names: string[] }[];
    expect(listed.find((c) => c.Id === id)).toMatchObject({ State: 'exited', ExitCode: 5, Names: ['talker'] });
    expect((await tsOk('ps')).stdout).not.toContain('talker');
    await tsOk('rm', 'talker');
    await expectGone(id);
  });

  it('logs --since and --until take a timestamp, Unix seconds or a duration ago', async () => {
    const ctl = await dirs.make();
    const script = 'echo early; echo early-err >&2; while [ ! -e /ctl/go ]; do sleep 0.1; done; echo late';
    const id = (await tsOk('run', '-d', '-v', `${ctl}:/ctl`, 'busybox', 'sh', '-c', script)).stdout.trim();
    await eventually('early is logged', () => tsOk('logs', id), (r) => r.stdout.includes('early'));
    const between = new Date();
    await writeFile(join(ctl, 'go'), '');
    await tsOk('wait', id);
    const rfc3339 = between.toISOString();
    const unix = (between.getTime() / 1000).toFixed(3);
    expect(await tsOk('logs', '--since', rfc3339, id)).toMatchObject({ stdout: 'late\n', stderr: '' });
    expect(await tsOk('logs', '--since', unix, id)).toMatchObject({ stdout: 'late\n', stderr: '' });
    expect(await tsOk('logs', '--until', rfc3339, id)).toMatchObject({ stdout: 'early\n', stderr: 'early-err\n' });
    expect(await tsOk('logs', '--until', unix, '--tail', '1', id)).toMatchObject({ stdout: '', stderr: 'early-err\n' });
    expect((await tsOk('logs', '--since', '1h', id)).stdout).toBe('early\nlate\n');
    expect((await tsOk('logs', '--since', '1h30m', '--until', '0s', id)).stdout).toBe('early\nlate\n');
    expect((await tsOk('logs', '--until', '1h', id)).stdout).toBe('');
    expect(await tsOk('logs', '-f', '--since', rfc3339, id)).toMatchObject({ stdout: 'late\n' });
    const bad = await ts('logs', '--since', 'yesterday', id);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('invalid --since "yesterday"');
    await tsOk('rm', id);
  });

  it('start -a prints the whole output again and exits with the code; -i passes stdin on', async () => {
    const id = (await tsOk('run', '-d', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4')).stdout.trim();
    expect((await tsOk('wait', id)).stdout).toBe('4\n');
    expect(await ts('start', '-a', id)).toMatchObject({ code: 4, stdout: 'out\n', stderr: 'err\n' });
    expect((await tsOk('logs', id)).stdout).toBe('out\nout\n');
    expect((await inspect(id)).State).toMatchObject({ Status: 'exited', ExitCode: 4 });
    const two = await ts('start', '-a', id, id);
    expect(two.code).toBe(125);
    expect(two.stderr).toContain('exactly one container');

    const reader = (await tsOk('run', '-d', '-i', 'busybox', 'sh', '-c', 'read x; echo got $x; exit 3')).stdout.trim();
    expect(await tsbuild(['--root', store.root, 'attach', reader], { input: 'first\n' })).toMatchObject({ code: 3, stdout: 'got first\n' });
    expect(await tsbuild(['--root', store.root, 'start', '-a', '-i', reader], { input: 'second\n' })).toMatchObject({ code: 3, stdout: 'got second\n' });
    await tsOk('rm', id, reader);
  });

  it('stop sends the stop signal first, then SIGKILL after the timeout', async () => {
    await tsOk('run', '-d', '--name', 'polite', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "echo bye; exit 3" USR1; echo ready; while true; do sleep 0.1; done');
    await eventually('polite is ready', () => tsOk('logs', 'polite'), (r) => r.stdout.includes('ready'));
    await tsOk('stop', 'polite');
    expect((await inspect('polite')).State.ExitCode).toBe(3);
    expect((await tsOk('logs', 'polite')).stdout).toBe('ready\nbye\n');

    // PID 1 ignores SIGTERM it has no handler for: only the SIGKILL ends it.
    await tsOk('run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'while true; do sleep 0.1; done');
    await tsOk('stop', '-t', '1', 'stubborn');
    expect((await inspect('stubborn')).State).toMatchObject({ Status: 'exited', ExitCode: 137 });
    await tsOk('restart', 'stubborn');
    expect((await inspect('stubborn')).State).toMatchObject({ Status: 'running', Running: true });
    await tsOk('rm', '-f', 'polite', 'stubborn');
  });

  it('--init: catatonit is PID 1 and passes stop\'s SIGTERM on to the command', async () => {
    expect((await tsOk('run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,args')).stdout).toMatch(/^\s*1 \/run\/tsbuild-init -- ps/m);
    const id = (await tsOk('run', '-d', '--init', 'busybox', 'sleep', '1000')).stdout.trim();
    await tsOk('stop', '-t', '600', id);
    expect((await inspect(id)).State.ExitCode).toBe(143);
    await tsOk('rm', id);
  });

  it('a name in use and a missing image are one-line errors with exit code 125, leaving nothing', async () => {
    await tsOk('run', '-d', '--name', 'taken', 'busybox', 'sleep', '1000');
    const before = await containerIds();
    const clash = await ts('run', '--name', 'taken', 'busybox', 'true');
    expect(clash.code).toBe(125);
    expect(clash.stderr).toMatch(/^tsbuild: error: the container name "taken" is already in use[^\n]*\n$/);
    // Not in the store, so run tries to pull it: from a port on this machine where no registry listens.
    const missing = await ts('run', '127.0.0.1:9/no-such-image', 'true');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^Pulling 127\.0\.0\.1:9\/no-such-image\ntsbuild: error: image 127\.0\.0\.1:9\/no-such-image is not in the store and cannot be pulled: [^\n]+\n$/);
    const never = await ts('run', '--pull', 'never', 'no-such-image', 'true');
    expect(never.code).toBe(125);
    expect(never.stderr).toMatch(/^tsbuild: error: image "no-such-image" not found[^\n]+\n$/);
    const cidfile = join(await dirs.make(), 'cid');
    const withCid = await tsOk('run', '-d', '--cidfile', cidfile, 'busybox', 'true');
    expect(await readFile(cidfile, 'utf8')).toBe(withCid.stdout.trim());
    await tsOk('wait', withCid.stdout.trim());
    await tsOk('rm', withCid.stdout.trim());
    const badVolume = await ts('run', '--rm', '-v', '/no/such/dir:/data', 'busybox', 'true');
    expect(badVolume.code).toBe(125);
    expect(badVolume.stderr).toContain('/no/such/dir');
    expect(await containerIds()).toEqual(before);
    await tsOk('rm', '-f', 'taken');
  });

  it('the container runs on when the CLI is SIGKILLed, and a killed conmon is reported, not hung on', async () => {
    const cli = spawn(process.execPath, [TSBUILD_BIN, '--root', store.root, 'run', '--name', 'orphan', 'busybox', 'sh', '-c', 'echo started; sleep 1000'], { stdio: 'pipe' });
    await eventually('orphan starts', async () => (await ts('logs', 'orphan')).stdout, (s) => s.includes('started'));
    cli.kill('SIGKILL');
    await new Promise((r) => cli.once('close', r));
    const state = await inspect('orphan');
    expect(state.State).toMatchObject({ Status: 'running', Running: true });
    expect((await tsOk('ps')).stdout).toContain('orphan');

    const conmonPid = Number(await readFile(join(store.root, 'containers', state.Id, 'conmon.pid'), 'utf8'));
    process.kill(conmonPid, 'SIGKILL');
    const after = await eventually('conmon is gone', () => inspect('orphan'), (s) => s.State.Error !== '');
    expect(after.State.Error).toMatch(/conmon \(pid \d+\) is gone/);
    expect((await tsOk('ps', '-a')).stdout).toContain('orphan');
    await tsOk('rm', '-f', 'orphan');
    await expectGone(state.Id);
  });

  it('attach: stdin to a -d -i container, output back; after the CLI is SIGKILLed attaching again works', async () => {
    const id = (await tsOk('run', '-d', '-i', '--name', 'echoer', 'busybox', 'sh', '-c', 'while read l; do echo got $l; done')).stdout.trim();
    const attachOnce = async (line: string) => {
      const cli = spawn(process.execPath, [TSBUILD_BIN, '--root', store.root, 'attach', 'echoer'], { stdio: 'pipe' });
      let out = '';
      cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
      cli.stdin.write(`${line}\n`);
      await eventually(`echoer answers ${line}`, async () => out, (o) => o.includes(`got ${line}`));
      cli.kill('SIGKILL');
      await new Promise((r) => cli.once('close', r));
      return out;
    };
    expect(await attachOnce('one')).toBe('got one\n');
    expect((await inspect(id)).State.Running).toBe(true);
    expect(await attachOnce('two')).toBe('got two\n');
    expect((await tsOk('logs', 'echoer')).stdout).toBe('got one\ngot two\n');
    await tsOk('rm', '-f', 'echoer');
    await expectGone(id);
  });

  it('--rm of a detached container is done by conmon\'s exit command, with no tsbuild process running', async () => {
    const id = (await tsOk('run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.5')).stdout.trim();
    await eventually('the container removes itself', () => pathExists(join(store.root, 'containers', id)), (present) => !present);
    await expectGone(id);
  });

  it('--restart on-failure:2 restarts exactly twice', async () => {
    await tsOk('run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo attempt; exit 1');
    const done = await eventually('flaky gives up', () => inspect('flaky'), (s) => s.RestartCount === 2 && s.State.Status === 'exited');
    expect(done.State.ExitCode).toBe(1);
    expect((await tsOk('logs', 'flaky')).stdout).toBe('attempt\nattempt\nattempt\n');
    await tsOk('rm', 'flaky');
  });
});

describe('images containers use', () => {
  it('rmi refuses an image a container uses (without -f); prune keeps what the container needs to start again', async () => {
    const ctx = await dirs.make();
    await writeFile(join(ctx, 'Dockerfile'), 'FROM localhost/busybox\nLABEL purpose=rmi-test\n');
    await tsOk('build', '-q', '-t', 'inuse', ctx);
    const id = (await tsOk('run', '-d', 'inuse', 'sh', '-c', 'echo ran')).stdout.trim();
    await tsOk('wait', id);
    const refused = await ts('rmi', 'inuse');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^tsbuild: error: image localhost\/inuse:latest is used by container [^\n]+\n$/);
    await tsOk('rmi', '-f', 'inuse');
    await tsOk('prune');
    await tsOk('start', id);
    expect((await tsOk('wait', id)).stdout).toBe('0\n');
    expect((await tsOk('logs', id)).stdout).toBe('ran\nran\n');
    await tsOk('rm', id);
  });
});

describe('tsbuild exec', () => {
  it('joins the container: ps shows its PID 1; exit codes, -e, -w, -u and piped stdin with -i', async () => {
    const id = (await tsOk('run', '-d', 'busybox', 'sleep', '1000')).stdout.trim();
    const ps = await tsOk('exec', id, 'ps', '-o', 'pid,args');
    expect(ps.stdout).toMatch(/^\s*1 sleep 1000$/m);
    expect((await ts('exec', id, 'sh', '-c', 'exit 4')).code).toBe(4);
    const missing = await ts('exec', id, 'no-such-command');
    expect(missing.code).toBe(127);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect((await tsOk('exec', '-e', 'A=1', '-w', '/tmp', '-u', 'app', id, 'sh', '-c', 'echo $A; pwd; id -u')).stdout).toBe('1\n/tmp\n1000\n');
    expect((await tsbuildOk(['--root', store.root, 'exec', '-i', id, 'cat'], { input: 'piped\n' })).stdout).toBe('piped\n');
    await tsOk('rm', '-f', id);
    await expectGone(id);
  });

  it('a stopped container refuses exec with exit code 125', async () => {
    const id = (await tsOk('run', '-d', 'busybox', 'true')).stdout.trim();
    await tsOk('wait', id);
    const out = await ts('exec', id, 'true');
    expect(out.code).toBe(125);
    expect(out.stderr).toContain('is not running');
    await tsOk('rm', id);
  });
});

describe('isolation and limits', () => {
  it('seccomp is in force by default (mode 2) and off with seccomp=unconfined', async () => {
    expect((await tsOk('run', '--rm', 'busybox', 'grep', 'Seccomp:', '/proc/self/status')).stdout).toMatch(/Seccomp:\s+2/);
    expect((await tsOk('run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status')).stdout).toMatch(/Seccomp:\s+0/);
  });

  it('a syscall the default profile denies fails, even with the capability it needs', async () => {
    // swapoff(2) is refused by the profile (EPERM) before the kernel looks for the file (ENOENT).
    const denied = await ts('run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'busybox', 'swapoff', '/nope');
    expect(denied.stderr).toContain('Operation not permitted');
    const unconfined = await ts('run', '--rm', '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', 'busybox', 'busybox', 'swapoff', '/nope');
    expect(unconfined.stderr).toContain('No such file or directory');
  });

  it('--memory: an allocation over it is OOM-killed, exit 137, OOMKilled true', async () => {
    const out = await ts('run', '--name', 'hog', '--memory', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x="$x$x"; done');
    expect(out.code).toBe(137);
    expect((await inspect('hog')).State).toMatchObject({ OOMKilled: true, ExitCode: 137 });
    await tsOk('rm', 'hog');
  });

  it('--pids-limit contains a fork bomb', async () => {
    const out = await ts('run', '--rm', '--pids-limit', '8', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done');
    expect(out.stderr).toContain("can't fork");
  });

  it('--runtime crun: crun\'s own reason as one line, exit 125, nothing left behind', async () => {
    const mounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(join(store.root, 'containers'))).sort();
    const before = { ids: await containerIds(), mounts: await mounts() };
    const out = await ts('run', '--rm', '--runtime', 'crun', 'busybox', 'true');
    expect(out.code).toBe(125);
    expect(out.stderr).toMatch(/^tsbuild: error: crun: [^\n]+\n$/);
    expect({ ids: await containerIds(), mounts: await mounts() }).toEqual(before);
  });

  it('--ulimit sets the limit; top lists the container\'s processes', async () => {
    expect((await tsOk('run', '--rm', '--ulimit', 'nofile=200:300', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn')).stdout).toBe('200\n300\n');
    expect((await ts('run', '--rm', '--ulimit', 'nofile=3:2', 'busybox', 'true')).code).toBe(125);
    const id = (await tsOk('run', '-d', 'busybox', 'sleep', '1000')).stdout.trim();
    expect((await tsOk('top', id)).stdout).toMatch(/^UID\s+PID.*\n\S+\s+\d+.*sleep 1000$/m);
    expect((await tsOk('top', id, '-o', 'pid,comm')).stdout).toMatch(/^\s*PID COMMAND\n\s*\d+ sleep\n$/);
    await tsOk('rm', '-f', id);
  });

  it('-e, -w, -u, --hostname, --read-only, -v and --tmpfs reach the container', async () => {
    const vol = await dirs.make();
    const out = await tsOk(
      'run', '--rm', '-e', 'GREETING=hello', '-w', '/tmp', '-u', '1000', '--hostname', 'box', '--read-only',
      '-v', `${vol}:/data:ro`, '--tmpfs', '/scratch', 'busybox',
      'sh', '-c', 'echo $GREETING; pwd; id -u; cat /etc/hostname; touch /x 2>/dev/null || echo ro; touch /data/y 2>/dev/null || echo volro; touch /scratch/z && echo tmpfs',
    );
    expect(out.stdout).toBe('hello\n/tmp\n1000\nbox\nro\nvolro\ntmpfs\n');
  });
});
