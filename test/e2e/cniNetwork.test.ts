import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IPAM_LEASES_DIR, NetworkError, parsePublish, readContainerNetwork, setupNetwork, teardownNetwork, type BridgeNetwork, type ContainerNetwork,
} from '@tsbuild/builder';
import { requireTools, run } from '../helpers/tools.js';
import { tempDirs } from '../helpers/tempDirs.js';

// Real CNI plugins, real network namespaces, real iptables: root only.
const dirs = tempDirs();
const suffix = randomBytes(2).toString('hex');
// A bridge and subnet of this file's own, so parallel test files (and a running tsbuild) never share leases.
const network: BridgeNetwork = {
  name: `tsbuild-test-${suffix}`,
  bridge: `tsbt${suffix}`,
  subnet: `10.98.${randomBytes(1)[0]}.0/24`,
  gateway: '',
};
network.gateway = network.subnet.replace(/0\/24$/, '1');
let root: string;
let www: string;

beforeAll(async () => {
  await requireTools({ '/usr/lib/cni/bridge': 'containernetworking-plugins', iptables: 'iptables', ip: 'iproute2', busybox: 'busybox-static', curl: 'curl' });
  root = await dirs.make();
  www = await dirs.make();
  await writeFile(join(www, 'index.html'), 'hello from the container\n');
});
afterAll(async () => {
  await run('ip', ['link', 'del', network.bridge]).catch((e: { stderr?: string }) => {
    // The bridge only exists once a bridge-mode test has run.
    if (!e.stderr?.includes('Cannot find device')) throw e;
  });
  await dirs.cleanup();
});

const newId = () => randomBytes(32).toString('hex');

function inNetns(netnsPath: string, command: string[]) {
  return run('nsenter', [`--net=${netnsPath}`, ...command]);
}

/** busybox httpd on port 80 inside the namespace (nsenter execs it, so the child is the server itself). */
async function startHttpd(netnsPath: string): Promise<ChildProcess> {
  const server = spawn('nsenter', [`--net=${netnsPath}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 200; attempt++) {
    const { stdout } = await inNetns(netnsPath, ['busybox', 'netstat', '-ltn']);
    if (/:80\s/.test(stdout)) return server;
    await new Promise((r) => setTimeout(r, 25));
  }
  server.kill();
  throw new Error('busybox httpd did not start listening');
}

function stopServer(server: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    server.kill('SIGTERM');
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function listen(port: number, host: string): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** Where every root's containers claim the host ports they publish: one file per container. */
const HOST_PORT_CLAIMS_DIR = '/run/tsbuild/cni/ports';

async function ipamLeases(): Promise<string[]> {
  const dir = join(IPAM_LEASES_DIR, network.name);
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
  return Promise.all(names.map(async (n) => `${n} ${(await readFile(join(dir, n), 'utf8')).split(/\r?\n/)[0]}`));
}

/** Everything a container's network can leave on the host, by container ID (and its address, for the firewall rules). */
async function traces(containerId: string, ipAddress?: string) {
  const rules = (await run('iptables-save')).stdout.split('\n')
    .filter((l) => l.includes(containerId) || (ipAddress !== undefined && l.includes(`${ipAddress}/32`)));
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(containerId));
  const veths = existsSync(`/sys/class/net/${network.bridge}`)
    ? (JSON.parse((await run('ip', ['-j', 'link', 'show', 'master', network.bridge])).stdout) as unknown[])
    : [];
  return {
    rules,
    mounts,
    netns: existsSync(join(root, 'netns', containerId)),
    // The host-wide claim on its published ports (hostPortClaims.ts), kept apart from the root.
    claim: existsSync(join(HOST_PORT_CLAIMS_DIR, `${containerId}.json`)),
    leases: (await ipamLeases()).filter((l) => l.includes(containerId)),
    state: await readContainerNetwork(root, containerId),
    veths,
  };
}
const nothingLeft = { rules: [], mounts: [], netns: false, claim: false, leases: [], state: undefined, veths: [] };

async function expectRejection(promise: Promise<unknown>): Promise<NetworkError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(NetworkError);
  expect((error as NetworkError).message).not.toContain('\n');
  return error as NetworkError;
}

function bridge(containerId: string, publish: string[] = []): Promise<ContainerNetwork> {
  return setupNetwork({ root, containerId, mode: 'bridge', ports: publish.map(parsePublish), network });
}

describe('bridge network (CNI bridge + host-local + portmap + firewall)', () => {
  it('gives the netns an address on the bridge, a default route and lo; NAT out is a MASQUERADE rule', async () => {
    const id = newId();
    const net = await bridge(id);
    try {
      expect(net.mode).toBe('bridge');
      expect(net.netnsPath).toBe(join(root, 'netns', id));
      expect(net.gateway).toBe(network.gateway);
      expect(net.prefixLength).toBe(24);
      expect(net.ipAddress?.startsWith(network.subnet.replace(/0\/24$/, ''))).toBe(true);

      const links = JSON.parse((await inNetns(net.netnsPath!, ['ip', '-j', 'addr', 'show'])).stdout) as
        { ifname: string; address: string; operstate: string; flags: string[]; addr_info: { local: string; prefixlen: number }[] }[];
      const eth0 = links.find((l) => l.ifname === 'eth0');
      expect(eth0?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(`${net.ipAddress}/24`);
      expect(eth0?.address).toBe(net.macAddress);
      expect(links.find((l) => l.ifname === 'lo')?.flags).toContain('UP');
      const routes = (await inNetns(net.netnsPath!, ['ip', 'route'])).stdout;
      expect(routes).toContain(`default via ${network.gateway} dev eth0`);

      const nat = (await run('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes(`id: \\"${id}\\"`));
      expect(nat.some((l) => l.includes('-j MASQUERADE'))).toBe(true);
      // The lease host-local wrote is under this root, named by the address.
      expect(await ipamLeases()).toContain(`${net.ipAddress} ${id}`);
      expect(await readContainerNetwork(root, id)).toEqual(net);
    } finally {
      await teardownNetwork(root, id);
    }
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
  });

  it('publishes a port: curl http://127.0.0.1:HOSTPORT on the host reaches a server in the netns', async () => {
    const id = newId();
    const hostPort = await freePort();
    const net = await bridge(id, [`${hostPort}:80`, '127.0.0.1::80']);
    expect(net.ports[0]).toEqual({ hostIP: '', hostPort, containerPort: 80, protocol: 'tcp' });
    const chosen = net.ports[1]!.hostPort;
    expect(chosen).toBeGreaterThan(0);
    const server = await startHttpd(net.netnsPath!);
    try {
      expect((await run('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${hostPort}/`])).stdout).toBe('hello from the container\n');
      expect((await run('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${chosen}/`])).stdout).toBe('hello from the container\n');
    } finally {
      await stopServer(server);
      await teardownNetwork(root, id);
    }
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
    // The DNAT is gone with the container: nothing answers on the port now.
    const after = await run('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${hostPort}/`]).then(() => 'answered', () => 'refused');
    expect(after).toBe('refused');
  });

  it('publishes a udp port: a datagram to 127.0.0.1:HOSTPORT reaches a server in the netns and its reply comes back', async () => {
    const id = newId();
    const net = await bridge(id, ['127.0.0.1::5353/udp']);
    const echo = "const s=require('dgram').createSocket('udp4');"
      + "s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(5353,()=>console.log('ready'))";
    const server = spawn('nsenter', [`--net=${net.netnsPath}`, process.execPath, '-e', echo], { stdio: ['ignore', 'pipe', 'inherit'] });
    const client = createSocket('udp4');
    try {
      await new Promise((resolve) => server.stdout!.once('data', resolve));
      const reply = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
      client.send('ping', net.ports[0]!.hostPort, '127.0.0.1');
      expect(await reply).toBe('echo:ping');
    } finally {
      client.close();
      await stopServer(server);
      await teardownNetwork(root, id);
    }
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
  });

  it('gives two containers different addresses, and they reach each other over the bridge', async () => {
    const [a, b] = [newId(), newId()];
    const netA = await bridge(a);
    const netB = await bridge(b);
    const server = await startHttpd(netB.netnsPath!);
    try {
      expect(netA.ipAddress).not.toBe(netB.ipAddress);
      const { stdout } = await inNetns(netA.netnsPath!, ['curl', '-sS', '--max-time', '10', `http://${netB.ipAddress}/`]);
      expect(stdout).toBe('hello from the container\n');
    } finally {
      await stopServer(server);
      await teardownNetwork(root, a);
      await teardownNetwork(root, b);
    }
    expect(await traces(a, netA.ipAddress)).toEqual(nothingLeft);
    expect(await traces(b, netB.ipAddress)).toEqual(nothingLeft);
  });

  it('sets up ten containers at once: ten addresses, and all of it torn down', async () => {
    const ids = Array.from({ length: 10 }, newId);
    const nets = await Promise.all(ids.map((id) => bridge(id)));
    try {
      expect(new Set(nets.map((n) => n.ipAddress)).size).toBe(10);
      expect(await ipamLeases()).toHaveLength(10);
    } finally {
      await Promise.all(ids.map((id) => teardownNetwork(root, id)));
    }
    for (const [i, id] of ids.entries()) expect(await traces(id, nets[i]!.ipAddress)).toEqual(nothingLeft);
  });

  it('refuses a host port a socket holds, with one line, and leaves nothing behind', async () => {
    const hostPort = await freePort();
    const holder = await listen(hostPort, '127.0.0.1');
    const id = newId();
    const leasesBefore = await ipamLeases();
    try {
      const error = await expectRejection(bridge(id, [`${hostPort}:80`]));
      expect(error.kind).toBe('port-in-use');
      expect(error.message).toBe(`cannot publish 0.0.0.0:${hostPort}/tcp: address already in use`);
    } finally {
      await new Promise((r) => holder.close(r));
    }
    expect(await traces(id)).toEqual(nothingLeft);
    expect(await ipamLeases()).toEqual(leasesBefore);
  });

  it("refuses a host port another container publishes (its DNAT would shadow this one's)", async () => {
    const hostPort = await freePort();
    const first = newId();
    const second = newId();
    await bridge(first, [`127.0.0.1:${hostPort}:80`]);
    try {
      const error = await expectRejection(bridge(second, [`${hostPort}:8080`]));
      expect(error.message).toBe(`cannot publish 0.0.0.0:${hostPort}/tcp: port is already allocated`);
      expect(await traces(second)).toEqual({ ...nothingLeft, veths: expect.any(Array) });
      // The same port number over udp is another port.
      await bridge(second, [`${hostPort}:80/udp`]);
      await teardownNetwork(root, second);
    } finally {
      await teardownNetwork(root, first);
    }
    expect(await traces(first)).toEqual(nothingLeft);
  });

  it("refuses a subnet that overlaps a host route (here: this file's own bridge) before creating anything", async () => {
    const id = newId();
    const other = newId();
    await bridge(id);
    try {
      const overlapping: BridgeNetwork = { name: `${network.name}-overlap`, bridge: `tsbo${suffix}`, subnet: network.subnet.replace(/0\/24$/, '128/25'), gateway: network.gateway.replace(/1$/, '129') };
      const error = await expectRejection(setupNetwork({ root, containerId: other, mode: 'bridge', network: overlapping }));
      expect(error.kind).toBe('subnet-collision');
      expect(error.message).toBe(`bridge subnet ${overlapping.subnet} overlaps the host route ${network.subnet} on ${network.bridge}`);
      expect(existsSync(`/sys/class/net/${overlapping.bridge}`)).toBe(false);
      expect(await traces(other)).toEqual({ ...nothingLeft, veths: expect.any(Array) });
    } finally {
      await teardownNetwork(root, id);
    }
  });

  it('undoes every plugin when a later one in the list fails', async () => {
    // A network whose last plugin refuses ADD: bridge, portmap and firewall have already run by then.
    const failing: BridgeNetwork = { ...network, name: `${network.name}-bad` };
    await mkdir(join(root, 'networks'), { recursive: true });
    const list = JSON.parse(JSON.stringify({
      cniVersion: '1.0.0', name: failing.name,
      plugins: [
        { type: 'bridge', bridge: network.bridge, isGateway: true, ipMasq: true, hairpinMode: true,
          ipam: { type: 'host-local', routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: network.subnet, gateway: network.gateway }]], dataDir: join(root, 'networks', 'ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'firewall', backend: 'iptables' },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_setting': '1' } },
      ],
    }));
    await writeFile(join(root, 'networks', `${failing.name}.conflist`), JSON.stringify(list));
    const id = newId();
    const hostPort = await freePort();
    const error = await expectRejection(setupNetwork({ root, containerId: id, mode: 'bridge', ports: [parsePublish(`${hostPort}:80`)], network: failing }));
    expect(error.kind).toBe('plugin');
    expect(error.message).toContain('CNI plugin tuning ADD failed');
    expect(await traces(id)).toEqual(nothingLeft);
    // The firewall plugin's rules name the address, not the ID; no other container of this file is up now.
    const subnetPrefix = network.subnet.replace(/0\/24$/, '');
    expect((await run('iptables-save')).stdout.split('\n').filter((l) => l.includes(subnetPrefix))).toEqual([]);
    expect((await ipamLeases()).filter((l) => l.includes(id))).toEqual([]);
    expect(existsSync(join(root, 'networks', 'ipam', failing.name))
      ? (await readdir(join(root, 'networks', 'ipam', failing.name))).filter((n) => /^\d/.test(n)) : []).toEqual([]);
  });

  it('refuses a conflist that is not one, with one line', async () => {
    const broken: BridgeNetwork = { ...network, name: `${network.name}-broken` };
    await mkdir(join(root, 'networks'), { recursive: true });
    await writeFile(join(root, 'networks', `${broken.name}.conflist`), '{"cniVersion": "1.0.0", "plugins": [');
    const id = newId();
    const error = await expectRejection(setupNetwork({ root, containerId: id, mode: 'bridge', network: broken }));
    expect(error.message).toContain(`invalid CNI network configuration ${join(root, 'networks', `${broken.name}.conflist`)}`);
    expect(await traces(id)).toEqual({ ...nothingLeft, veths: expect.any(Array) });
  });

  it('tears down twice without complaint, and tears down what was never set up', async () => {
    const id = newId();
    const net = await bridge(id, [`${await freePort()}:80`]);
    await teardownNetwork(root, id);
    await teardownNetwork(root, id);
    await teardownNetwork(root, newId());
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
  });

  it('tears down after a crash mid-setup (netns and veth made, state without a result)', async () => {
    const id = newId();
    const net = await bridge(id, [`${await freePort()}:80`]);
    // What a setup killed after the bridge plugin but before its result was recorded leaves behind.
    const stateFile = join(root, 'networks', 'containers', `${id}.json`);
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
    delete state.result;
    await writeFile(stateFile, JSON.stringify(state));
    await teardownNetwork(root, id);
    // The address comes back from host-local's lease, so the firewall plugin's rules for it go too.
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
  });

  it('tears down a container whose netns vanished first (its masquerade rules are found by their comment)', async () => {
    const id = newId();
    const net = await bridge(id, [`${await freePort()}:80`]);
    await run('umount', [net.netnsPath!]);
    await teardownNetwork(root, id);
    expect(await traces(id, net.ipAddress)).toEqual(nothingLeft);
  });
});

describe('network modes none and host', () => {
  it('none: a fresh netns with only lo, up', async () => {
    const id = newId();
    const net = await setupNetwork({ root, containerId: id, mode: 'none' });
    try {
      expect(net).toEqual({ mode: 'none', netnsPath: join(root, 'netns', id), ports: [] });
      const links = JSON.parse((await inNetns(net.netnsPath!, ['ip', '-j', 'link', 'show'])).stdout) as { ifname: string; flags: string[] }[];
      expect(links.map((l) => l.ifname)).toEqual(['lo']);
      expect(links[0]!.flags).toContain('UP');
      expect((await inNetns(net.netnsPath!, ['ip', 'route'])).stdout).toBe('');
    } finally {
      await teardownNetwork(root, id);
    }
    expect(await traces(id)).toEqual(nothingLeft);
  });

  it('host: no netns; publishing is refused outside bridge mode', async () => {
    const id = newId();
    expect(await setupNetwork({ root, containerId: id, mode: 'host' })).toEqual({ mode: 'host', ports: [] });
    expect(existsSync(join(root, 'netns', id))).toBe(false);
    const error = await expectRejection(setupNetwork({ root, containerId: id, mode: 'none', ports: [parsePublish('8080:80')] }));
    expect(error.message).toBe('ports cannot be published with --network none');
    await teardownNetwork(root, id);
  });

  it('refuses a container ID that could name a path', async () => {
    const error = await expectRejection(setupNetwork({ root, containerId: '../escape', mode: 'none' }));
    expect(error.kind).toBe('invalid-container-id');
  });
});
