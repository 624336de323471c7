// A simulated wide-area link for the registry bench: a network namespace of the bench's own,
// joined to the host by a veth pair whose two ends are rate-limited with tbf (this kernel has no
// netem), and a TCP proxy on 127.0.0.1 that holds every piece of data for half the round trip in
// each direction. Clients talk to the proxy; the proxy talks over the veth to whatever listens in
// the namespace. Everything made here is named after the bench's pid and removed by name.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Bytes a direction of the proxy holds before it stops reading (the "window" of the simulated link). */
const HELD_BYTES = 8 * 1024 * 1024;

function ip(...args) {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim()}`);
}

function tc(netns, ...args) {
  const argv = netns ? ['ip', 'netns', 'exec', netns, 'tc', ...args] : ['tc', ...args];
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr.trim()}`);
}

/**
 * One direction: every chunk leaves `delayMs` after it arrived (the first `firstDelayMs`), in
 * order, from one queue; reading pauses while too much is held.
 */
function delayedPipe(from, to, delayMs, firstDelayMs = delayMs) {
  const queue = [];
  let held = 0;
  let timer;
  let ended = false;
  const resume = () => {
    if (from.isPaused() && held + to.writableLength <= HELD_BYTES) from.resume();
  };
  const release = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].at <= now) {
      const { chunk } = queue.shift();
      held -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(release, queue[0].at - now);
    else if (ended) to.end();
    resume();
  };
  const enqueue = (chunk, wait) => {
    const at = Math.max(performance.now() + wait, queue.at(-1)?.at ?? 0);
    queue.push({ chunk, at });
    timer ??= setTimeout(release, at - performance.now());
  };
  to.on('drain', resume);
  from.on('data', (chunk) => {
    held += chunk.length;
    if (held + to.writableLength > HELD_BYTES) from.pause();
    enqueue(chunk, firstDelayMs ?? delayMs);
    firstDelayMs = undefined;
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
  from.on('error', () => to.destroy());
  to.on('error', () => from.destroy());
}

function serveDelayProxy(target, rttMs) {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const server = createServer((client) => {
    const upstream = connect({ host: targetHost, port: targetPort });
    for (const s of [client, upstream]) s.setNoDelay(true);
    // The proxy accepts at once, but over a real link a client sends its first byte one round
    // trip (the TCP handshake) after it connects: so a new connection costs what it costs there.
    delayedPipe(client, upstream, rttMs / 2, rttMs * 1.5);
    delayedPipe(upstream, client, rttMs / 2);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`127.0.0.1:${server.address().port}\n`));
}

/**
 * A proxy on 127.0.0.1 (free port) to `target` ("host:port") adding `rttMs` of round trip.
 * It runs in a process of its own, so that the bench's synchronous set-up commands (spawnSync)
 * cannot stall it. Resolves to { host, close() }.
 */
export function startDelayProxy(target, rttMs) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), target, String(rttMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ host: out.trim(), close });
    });
    child.once('exit', (code) => reject(new Error(`the delay proxy exited (${code}) before it listened`)));
  });
}

/**
 * Creates the namespace `tsbwan<pid>` and the veth pair `tsbw<pid>h` (host, 10.231.<n>.1) /
 * `tsbw<pid>n` (namespace, 10.231.<n>.2), both ends shaped to `rateMbit` with tbf.
 * Returns { netns, address (of the namespace end), remove() }.
 */
export function createWanLink({ rateMbit }) {
  const id = process.pid % 100000;
  const netns = `tsbwan${id}`;
  const hostEnd = `tsbw${id}h`;
  const nsEnd = `tsbw${id}n`;
  const subnet = `10.231.${id % 250}`;
  const remove = () => {
    // By name only: the veth pair goes with either end, the namespace last.
    spawnSync('ip', ['link', 'del', hostEnd], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  };
  remove();
  try {
    ip('netns', 'add', netns);
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd);
    ip('link', 'set', nsEnd, 'netns', netns);
    ip('addr', 'add', `${subnet}.1/30`, 'dev', hostEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('-n', netns, 'addr', 'add', `${subnet}.2/30`, 'dev', nsEnd);
    ip('-n', netns, 'link', 'set', nsEnd, 'up');
    ip('-n', netns, 'link', 'set', 'lo', 'up');
    // Each end shapes what it sends: the host end uploads (push), the namespace end downloads (pull).
    const shape = ['root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '256kb', 'latency', '50ms'];
    tc(undefined, 'qdisc', 'add', 'dev', hostEnd, ...shape);
    tc(netns, 'qdisc', 'add', 'dev', nsEnd, ...shape);
  } catch (e) {
    remove();
    throw e;
  }
  return { netns, address: `${subnet}.2`, remove };
}

// `node wanLink.mjs TARGET RTT_MS`: the proxy process startDelayProxy starts.
if (process.argv[1] === fileURLToPath(import.meta.url)) serveDelayProxy(process.argv[2], Number(process.argv[3]));
