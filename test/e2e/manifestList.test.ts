import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../helpers/registryHarness.js';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let registry: Awaited<ReturnType<typeof startRegistry>>;
const digests: Record<string, string> = {};

const tsb = (...args: string[]) => tsbuildOk(['--root', root, ...args]);

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  registry = await startRegistry();
  root = await dirs.make();
  const context = await dirs.make();
  await writeFile(join(context, 'Dockerfile'), 'ARG TARGETARCH\nFROM scratch\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n');
  for (const arch of ['amd64', 'arm64']) digests[arch] = (await tsb('build', '-q', '--platform', `linux/${arch}`, '-t', `app-${arch}`, context)).stdout.trim();
});
afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('tsbuild manifest', () => {
  it('create, add, inspect, then push a two-platform index that skopeo reads back from the registry', async () => {
    await tsb('manifest', 'create', 'app:multi', 'app-amd64');
    await tsb('manifest', 'add', 'app:multi', 'app-arm64');
    const index = JSON.parse((await tsb('manifest', 'inspect', 'app:multi')).stdout) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
    expect(index.manifests.map((m) => [m.digest, m.platform.os, m.platform.architecture])).toEqual([
      [digests.amd64, 'linux', 'amd64'],
      [digests.arm64, 'linux', 'arm64'],
    ]);

    const dest = `${registry.host}/team/app:multi`;
    const pushed = (await tsb('manifest', 'push', '-q', '--tls-verify=false', 'app:multi', `docker://${dest}`)).stdout.trim();
    const raw = (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dest}`])).stdout;
    expect(JSON.parse(raw)).toEqual(index);
    const arm = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${dest}`])).stdout) as { Digest: string; Labels: Record<string, string> };
    expect(arm.Labels).toEqual({ arch: 'arm64' });
    const listed = JSON.parse((await tsb('images', '--json')).stdout) as { name?: string; digest: string }[];
    expect(pushed).toBe(listed.find((r) => r.name === 'localhost/app:multi')!.digest);
  });

  it('add --arch records the platform given; adding an image again replaces its entry; an image is no list', async () => {
    await tsb('manifest', 'create', 'other');
    await tsb('manifest', 'add', '--arch', 'arm', '--variant', 'v7', 'other', 'app-arm64');
    await tsb('manifest', 'add', '--arch', 'arm64', 'other', 'app-arm64');
    const index = JSON.parse((await tsb('manifest', 'inspect', 'other')).stdout) as { manifests: { platform: unknown }[] };
    expect(index.manifests.map((m) => m.platform)).toEqual([{ architecture: 'arm64', os: 'linux' }]);
    const notList = await tsbuild(['--root', root, 'manifest', 'add', 'app-amd64', 'app-arm64']);
    expect(notList.code).toBe(1);
    expect(notList.stderr).toBe('tsbuild: error: "app-amd64" is an image, not a manifest list (create one with tsbuild manifest create)\n');
  });
});
