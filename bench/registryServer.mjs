// A throwaway CNCF distribution registry (`docker-registry serve`) on 127.0.0.1, a free port
// and storage under the bench's work dir, as test/helpers/registryHarness.ts starts it.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTree } from './runRounds.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function answers(host) {
  return new Promise((resolve) => {
    const req = request(`http://${host}/v2/`, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Resolves to { host, stop() } once the registry answers; stop() ends it and deletes its storage.
 * With `netns`, it runs inside that network namespace, listening on `address`:5000.
 */
export async function startRegistry(dir, { netns, address } = {}) {
  removeTree(dir);
  mkdirSync(dir, { recursive: true });
  const host = netns ? `${address}:5000` : `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n`
    + `http:\n  addr: ${host}\n`);
  // `ip netns exec` execs the registry, so the child is the registry itself either way.
  const argv = [...(netns ? ['ip', 'netns', 'exec', netns] : []), 'docker-registry', 'serve', config];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log = (log + d.toString()).slice(-4000); });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    removeTree(dir);
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if (await answers(host)) return { host, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${host}: ${log}`);
}
