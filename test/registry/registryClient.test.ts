import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, LocalStore, MediaType, parseDigest } from '@tsbuild/oci-layout';
import { Readable } from 'node:stream';
import { parseAuthChallenge, pullImage, RegistrySession, RepositoryClient } from '@tsbuild/registry';
import { buildRandomImage } from '../helpers/randomImage.js';
import { startRegistry } from '../helpers/registryHarness.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let registry: Awaited<ReturnType<typeof startRegistry>>;
let digest: string;

beforeAll(async () => {
  registry = await startRegistry();
  const root = await dirs.make();
  digest = await buildRandomImage(root, 'lib', await dirs.make(), 100);
  for (const tag of ['a', 'b', 'c']) {
    const r = await tsbuild(['--root', root, 'push', '-q', 'lib', `docker://${registry.host}/lib/img:${tag}`]);
    expect(r.stderr).toBe('');
  }
});

afterAll(async () => {
  await registry?.stop();
  await dirs.cleanup();
});

describe('registry client library', () => {
  it('follows Link pagination through every page of tags', async () => {
    const session = new RegistrySession(registry.host);
    try {
      const client = new RepositoryClient(session, 'lib/img');
      expect((await client.listTags(1)).sort()).toEqual(['a', 'b', 'c']);
      expect((await client.headManifest('b'))?.digest).toBe(digest);
      expect(await client.headManifest('nope')).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it('pullImage stores a registry image under its fully qualified name', async () => {
    const store = await LocalStore.open(await dirs.make());
    const pulled = await pullImage(store, `${registry.host}/lib/img:c`);
    expect(pulled).toEqual({ name: `${registry.host}/lib/img:c`, descriptor: expect.objectContaining({ digest }) });
    expect((await store.resolve(`${registry.host}/lib/img:c`)).descriptor.digest).toBe(digest);
  });

  it('finds referrers through the tag-schema fallback when the registry has no referrers API', async () => {
    const session = new RegistrySession(registry.host);
    try {
      const client = new RepositoryClient(session, 'lib/img', { push: true });
      const subject = (await client.headManifest('a'))!;
      expect(await client.referrers(subject.digest)).toEqual([]);
      const empty = Buffer.from('{}');
      const emptyDesc = { mediaType: MediaType.ociEmpty, digest: digestOf(empty), size: empty.length };
      if (!(await client.blobSize(emptyDesc.digest))) await client.uploadBlob(emptyDesc, async () => Readable.from([empty]));
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          artifactType: 'application/vnd.example.sbom',
          config: emptyDesc,
          layers: [emptyDesc],
          subject: { mediaType: MediaType.ociManifest, digest: subject.digest, size: subject.size },
        }),
      );
      const artifactDigest = await client.putManifest(digestOf(artifact), artifact, MediaType.ociManifest);
      const entry = { mediaType: MediaType.ociManifest, digest: artifactDigest, size: artifact.length, artifactType: 'application/vnd.example.sbom' };
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry] }));
      await client.putManifest(`sha256-${parseDigest(subject.digest).slice(7)}`, index, MediaType.ociIndex);
      expect(await client.referrers(subject.digest)).toEqual([entry]);
      expect(await client.referrers(subject.digest, 'application/vnd.example.other')).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('parses WWW-Authenticate challenges with quoted commas', () => {
    expect(parseAuthChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
    });
    expect(parseAuthChallenge('Basic realm="x"')?.scheme).toBe('basic');
  });
});
