import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBridgeNetwork, IPAM_LEASES_DIR } from '@tsbuild/builder';
import { readTextIfExists } from '@tsbuild/oci-layout';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { cliOnRoot, removeAllContainers } from '../helpers/containerRoot.js';
import { tempDirs } from '../helpers/tempDirs.js';

// Containers on the default tsbuild0 bridge, through the CLI with real conmon, runc and CNI plugins.
// Leases are host-wide, so this file, other container tests and cniNetwork.test.ts (its own bridge) run side by side.
const dirs = tempDirs();
const roots: string[] = [];
let root: string;

/** A store with the busybox image; its containers are removed after the file, whatever a test left. */
async function newRoot(): Promise<string> {
  const dir = await dirs.make();
  roots.push(dir);
  await importBusybox(dir);
  return dir;
}

beforeAll(async () => {
  await requireTools({ runc: 'runc', conmon: 'conmon', '/usr/lib/cni/bridge': 'containernetworking-plugins', iptables: 'iptables', ip: 'iproute2', busybox: 'busybox-static', curl: 'curl' });
  root = await newRoot();
});
afterAll(async () => {
  for (const dir of roots) {
    await removeAllContainers(dir);
  }
  await dirs.cleanup();
});

const { ts, tsOk } = cliOnRoot(() => root);

interface Inspected {
  Id: string;
  HostConfig: { NetworkMode: string; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
  NetworkSettings: { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string; Ports: Record<string, { HostIp: string; HostPort: string }[] | null> };
}

async function inspect(ref: string): Promise<Inspected> {
  return (JSON.parse((await tsOk('container', 'inspect', ref)).stdout) as Inspected[])[0]!;
}

/** A port nothing listens on right now: the kernel picks it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function listen(port: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
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

const curl = (url: string) => run('curl', ['-sS', '--max-time', '5', url]).then((r) => r.stdout, (e: { stderr?: string }) => `failed: ${e.stderr ?? ''}`);

/** busybox httpd serving one page that names the container. */
const httpd = (text: string) => ['busybox', 'sh', '-c', `echo ${text} > /tmp/index.html && exec busybox httpd -f -p 80 -h /tmp`];

/** The host side of the container's veth, from the network state the CNI module keeps while it is up. */
async function hostVeth(id: string): Promise<string> {
  const state = JSON.parse(await readFile(join(root, 'networks', 'containers', `${id}.json`), 'utf8')) as { result: { interfaces: { name: string; sandbox?: string }[] } };
  return state.result.interfaces.find((i) => !i.sandbox && i.name !== defaultBridgeNetwork.bridge)!.name;
}

async function leasesOf(id: string): Promise<string[]> {
  const dir = join(IPAM_LEASES_DIR, defaultBridgeNetwork.name);
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
  // The leases are host-wide: another container (another test file's) may release one between readdir and read.
  const owners = await Promise.all(names.map(async (n) => ({ n, owner: (await readTextIfExists(join(dir, n)))?.split(/\r?\n/)[0] })));
  return owners.filter((o) => o.owner === id).map((o) => o.n);
}

/** Everything of a container's network that could outlive it, by its ID (and its veth, when known). */
async function networkTraces(id: string, veth?: string, inRoot = root) {
  return {
    stateDir: existsSync(join(inRoot, 'containers', id)),
    netns: existsSync(join(inRoot, 'netns', id)),
    networkState: existsSync(join(inRoot, 'networks', 'containers', `${id}.json`)),
    rules: (await run('iptables-save')).stdout.split('\n').filter((l) => l.includes(id)),
    leases: await leasesOf(id),
    veth: veth !== undefined && existsSync(join('/sys/class/net', veth)),
  };
}
const nothingLeft = { stateDir: false, netns: false, networkState: false, rules: [], leases: [], veth: false };

describe('container networking', () => {
  it('bridge is the default: a detached httpd with -p answers curl on the host; inspect, port and ps show it; rm leaves nothing', async () => {
    const hostPort = await freePort();
    const id = (await tsOk('run', '-d', '-p', `${hostPort}:80`, 'busybox', ...httpd('published'))).stdout.trim();
    const veth = await hostVeth(id);
    expect(await eventually('httpd answers on the host', () => curl(`http://127.0.0.1:${hostPort}/`), (out) => out === 'published\n')).toBe('published\n');

    const net = (await inspect(id)).NetworkSettings;
    expect((await inspect(id)).HostConfig.NetworkMode).toBe('bridge');
    expect(net.IPAddress).toMatch(/^10\.99\.\d+\.\d+$/);
    expect(net.IPAddress).not.toBe(defaultBridgeNetwork.gateway);
    expect({ prefix: net.IPPrefixLen, gateway: net.Gateway }).toEqual({ prefix: 16, gateway: defaultBridgeNetwork.gateway });
    expect(net.MacAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(net.Ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }] });
    expect((await inspect(id)).HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '', HostPort: String(hostPort) }] });

    expect((await tsOk('port', id)).stdout).toBe(`80/tcp -> 0.0.0.0:${hostPort}\n`);
    expect((await tsOk('port', id, '80')).stdout).toBe(`0.0.0.0:${hostPort}\n`);
    const unpublished = await ts('port', id, '81/tcp');
    expect({ code: unpublished.code, lines: unpublished.stderr.trim().split('\n').length }).toEqual({ code: 1, lines: 1 });

    const ps = (await tsOk('ps')).stdout.split('\n').find((l) => l.startsWith(id.slice(0, 12)));
    expect(ps).toContain(`0.0.0.0:${hostPort}->80/tcp`);

    // The container's own /etc/hosts names its hostname on its bridge address.
    expect((await tsOk('exec', id, 'cat', '/etc/hosts')).stdout).toContain(`${net.IPAddress}\t${id.slice(0, 12)}`);

    await tsOk('rm', '-f', id);
    expect(await networkTraces(id, veth)).toEqual(nothingLeft);
  });

  it('two containers of two fresh roots on the one bridge get different addresses and reach each other', async () => {
    // Leases per root would give both the first address of the range: only host-wide leases keep them apart.
    const [serverRoot, clientRoot] = await Promise.all([newRoot(), newRoot()]);
    const server = (await tsbuildOk(['--root', serverRoot, 'run', '-d', 'busybox', ...httpd('from-a')])).stdout.trim();
    try {
      const { IPAddress } = (JSON.parse((await tsbuildOk(['--root', serverRoot, 'inspect', server])).stdout) as Inspected[])[0]!.NetworkSettings;
      const client = ['--root', clientRoot, 'run', '--rm', 'busybox', 'sh', '-c', `ip -4 -o addr show eth0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/'; busybox wget -qO- http://${IPAddress}/`];
      await eventually('httpd listens in a', () => tsbuild(['--root', serverRoot, 'exec', server, 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']), (r) => r.code === 0);
      // Once, not retried: a retry would get the next address and hide a collision.
      const out = await tsbuild(client);
      const [clientAddress, page] = out.stdout.split('\n');
      expect(clientAddress).toMatch(/^10\.99\.\d+\.\d+$/);
      expect(clientAddress).not.toBe(IPAddress);
      expect(page).toBe('from-a');
    } finally {
      await tsbuildOk(['--root', serverRoot, 'rm', '-f', server]);
    }
  });

  it('restart sets the network up again; stop takes it down', async () => {
    const hostPort = await freePort();
    const id = (await tsOk('run', '-d', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', ...httpd('again'))).stdout.trim();
    try {
      await eventually('httpd answers', () => curl(`http://127.0.0.1:${hostPort}/`), (out) => out === 'again\n');
      const veth = await hostVeth(id);
      await tsOk('stop', '-t', '0', id);
      const down = await networkTraces(id, veth);
      expect({ ...down, stateDir: true }).toEqual({ ...nothingLeft, stateDir: true });
      expect((await inspect(id)).NetworkSettings.IPAddress).toBe('');
      await tsOk('start', id);
      expect((await inspect(id)).NetworkSettings.Ports).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] });
      expect(await eventually('httpd answers after start', () => curl(`http://127.0.0.1:${hostPort}/`), (out) => out === 'again\n')).toBe('again\n');
    } finally {
      await tsOk('rm', '-f', id);
    }
  });

  it('--rm of a detached container: conmon\'s exit command tears the network down with the container', async () => {
    const id = (await tsOk('run', '-d', '--rm', 'busybox', 'sh', '-c', 'until [ -e /tmp/go ]; do sleep 0.1; done')).stdout.trim();
    const veth = await hostVeth(id);
    expect((await leasesOf(id)).length).toBe(1);
    await tsOk('exec', id, 'touch', '/tmp/go');
    const left = await eventually('the container and its network are gone', () => networkTraces(id, veth), (t) => !t.stateDir && !t.netns && !t.networkState);
    expect(left).toEqual(nothingLeft);
  });

  it('a host port in use: a one-line error, exit 125, and nothing left', async () => {
    const hostPort = await freePort();
    const holder = await listen(hostPort);
    try {
      const cidfile = join(await dirs.make(), 'cid');
      const out = await ts('run', '-d', '--cidfile', cidfile, '-p', `${hostPort}:80`, 'busybox', 'sleep', '60');
      expect(out.code).toBe(125);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr).toContain(String(hostPort));
      const id = (await readFile(cidfile, 'utf8')).trim();
      expect(await networkTraces(id)).toEqual(nothingLeft);
      expect((await tsOk('ps', '-aq')).stdout).not.toContain(id.slice(0, 12));
    } finally {
      holder.close();
    }
  });

  it('run connects while it creates: a failure after that, in the runtime or in creating, leaves no network behind', async () => {
    // The runtime refuses the config (a CPU quota under the kernel's 1 ms minimum) once the network is up or on its way.
    const cidfile = join(await dirs.make(), 'cid');
    const refused = await ts('run', '-d', '--cidfile', cidfile, '--cpus', '0.001', 'busybox', 'true');
    expect({ code: refused.code, lines: refused.stderr.trim().split('\n').length }).toEqual({ code: 125, lines: 1 });
    expect(refused.stderr).toContain('runc');
    expect(await networkTraces((await readFile(cidfile, 'utf8')).trim())).toEqual(nothingLeft);

    // Creating fails (no such seccomp profile) after connecting began: no ID is printed, so a root of its own shows what is left.
    const own = await newRoot();
    const failed = await tsbuild(['--root', own, 'run', '-d', '--security-opt', `seccomp=${join(own, 'no-such-profile.json')}`, 'busybox', 'true']);
    expect({ code: failed.code, stderr: failed.stderr }).toEqual({ code: 125, stderr: expect.stringContaining('no-such-profile.json') });
    const left = async (dir: string) => (existsSync(join(own, dir)) ? (await readdir(join(own, dir))).filter((n) => !n.startsWith('.')) : []);
    expect({ containers: await left('containers'), netns: await left('netns'), networks: await left('networks/containers') }).toEqual({ containers: [], netns: [], networks: [] });
  });

  it('a host port another root\'s container publishes is refused (DNAT holds no socket a bind would find)', async () => {
    const otherRoot = await newRoot();
    const hostPort = await freePort();
    const first = (await tsOk('run', '-d', '-p', `${hostPort}:80`, 'busybox', 'sleep', '600')).stdout.trim();
    try {
      const out = await tsbuild(['--root', otherRoot, 'run', '-d', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', 'sleep', '600']);
      expect({ code: out.code, stderr: out.stderr.trim() }).toEqual({ code: 125, stderr: `tsbuild: error: cannot publish 127.0.0.1:${hostPort}/tcp: port is already allocated` });
      expect((await tsbuildOk(['--root', otherRoot, 'ps', '-aq'])).stdout).toBe('');
    } finally {
      await tsOk('rm', '-f', first);
    }
    // Released with the container: the other root may have it now.
    const second = (await tsbuildOk(['--root', otherRoot, 'run', '-d', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', 'sleep', '600'])).stdout.trim();
    await tsbuildOk(['--root', otherRoot, 'rm', '-f', second]);
  });

  it('a conflist naming a plugin that is not installed: run fails in one line and leaves nothing', async () => {
    const own = await newRoot();
    await tsbuildOk(['--root', own, 'run', '--rm', 'busybox', 'true']);
    const conflist = join(own, 'networks', `${defaultBridgeNetwork.name}.conflist`);
    const list = JSON.parse(await readFile(conflist, 'utf8')) as { plugins: object[] };
    await writeFile(conflist, JSON.stringify({ ...list, plugins: [...list.plugins, { type: 'no-such-cni-plugin' }] }));
    const cidfile = join(await dirs.make(), 'cid');
    const out = await tsbuild(['--root', own, 'run', '-d', '--cidfile', cidfile, 'busybox', 'sleep', '60']);
    expect({ code: out.code, lines: out.stderr.trim().split('\n').length }).toEqual({ code: 125, lines: 1 });
    expect(out.stderr).toContain('no-such-cni-plugin');
    expect(await networkTraces((await readFile(cidfile, 'utf8')).trim(), undefined, own)).toEqual(nothingLeft);
  });

  it('a plugin gone after the container started: rm says so and keeps it, rm -f removes it with a warning and leaves nothing', async () => {
    const id = (await tsOk('run', '-d', 'busybox', 'sleep', '600')).stdout.trim();
    const veth = await hostVeth(id);
    const stateFile = join(root, 'networks', 'containers', `${id}.json`);
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { confList: { plugins: object[] } };
    state.confList.plugins.push({ type: 'no-such-cni-plugin' });
    await writeFile(stateFile, JSON.stringify(state));

    expect((await ts('stop', '-t', '0', id)).stderr).toContain('no-such-cni-plugin');
    const kept = await ts('rm', id);
    expect({ code: kept.code, stderr: kept.stderr.trim() }).toEqual({ code: 125, stderr: expect.stringMatching(/^tsbuild: error: CNI plugin no-such-cni-plugin: .*\(rm -f removes the container anyway\)$/) });
    expect((await tsOk('ps', '-aq')).stdout).toContain(id.slice(0, 12));

    const forced = await ts('rm', '-f', id);
    expect({ code: forced.code, stderr: forced.stderr.trim() }).toEqual({ code: 0, stderr: expect.stringMatching(/^WARNING: container \S+ removed, but its network teardown failed: CNI plugin no-such-cni-plugin: [^\n]*$/) });
    expect((await tsOk('ps', '-aq')).stdout).not.toContain(id.slice(0, 12));
    // Every other plugin's DEL ran: no veth, lease or rule of it is left.
    expect(await networkTraces(id, veth)).toEqual(nothingLeft);
  });

  it('a damaged network state: ps still lists, stop names the file in one line and loses nothing', async () => {
    const id = (await tsOk('run', '-d', 'busybox', 'sleep', '600')).stdout.trim();
    const stateFile = join(root, 'networks', 'containers', `${id}.json`);
    const intact = await readFile(stateFile, 'utf8');
    await writeFile(stateFile, intact.slice(0, 40));
    expect((await tsOk('ps')).stdout).toContain(id.slice(0, 12));
    const refused = await ts('stop', '-t', '0', id);
    expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({ code: 125, stderr: `tsbuild: error: network state ${stateFile} is damaged` });
    expect(await readFile(stateFile, 'utf8')).toBe(intact.slice(0, 40));
    const veth = JSON.parse(intact) as { result: { interfaces: { name: string; sandbox?: string }[] } };
    await writeFile(stateFile, intact);
    await tsOk('rm', '-f', id);
    expect(await networkTraces(id, veth.result.interfaces.find((i) => !i.sandbox && i.name !== defaultBridgeNetwork.bridge)!.name)).toEqual(nothingLeft);
  });

  it('-p with --network none or host is refused before anything is made', async () => {
    for (const mode of ['none', 'host']) {
      const out = await ts('run', '--rm', '--network', mode, '-p', '8080:80', 'busybox', 'true');
      expect({ code: out.code, stderr: out.stderr.trim() }).toEqual({ code: 125, stderr: `tsbuild: error: ports cannot be published with --network ${mode}` });
    }
    const bad = await ts('run', '--rm', '-p', '80:99999', 'busybox', 'true');
    expect({ code: bad.code, lines: bad.stderr.trim().split('\n').length }).toEqual({ code: 125, lines: 1 });
  });

  it('--network none has only lo; --network host shares the host\'s network namespace', async () => {
    const none = await tsOk('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ip -o link | sed "s/^[0-9]*: //;s/[:@].*//"');
    expect(none.stdout).toBe('lo\n');
    const host = await tsOk('run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net');
    expect(host.stdout.trim()).toBe(await readlink('/proc/self/ns/net'));
    const bridge = await tsOk('run', '--rm', 'busybox', 'readlink', '/proc/self/ns/net');
    expect(bridge.stdout.trim()).not.toBe(await readlink('/proc/self/ns/net'));
  });
});
