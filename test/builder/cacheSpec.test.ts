import { describe, expect, it } from 'vitest';
import { cacheArtifact, CacheFormatError, CacheSpecError, CACHE_CONFIG_MEDIA_TYPE, parseCacheConfig, parseCacheExport, parseCacheImport, type CacheRecord } from '@tsbuild/builder';
import { parseDigest } from '@tsbuild/oci-layout';
import { tsbuild } from '../helpers/tsbuildCli.js';

const key = (c: string) => c.repeat(64);
const layer = (c: string) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: parseDigest(`sha256:${c.repeat(64)}`), size: 10 });

describe('--cache-to / --cache-from values', () => {
  it('reads buildx spellings', () => {
    expect(parseCacheExport('type=registry,ref=r.example/app:cache,mode=max')).toEqual({ type: 'registry', ref: 'r.example/app:cache', mode: 'max' });
    expect(parseCacheExport('type=registry,ref=r.example/app:cache')).toEqual({ type: 'registry', ref: 'r.example/app:cache', mode: 'min' });
    expect(parseCacheExport('type=local,dest=/tmp/c')).toEqual({ type: 'local', dir: '/tmp/c', tag: 'latest', mode: 'min' });
    expect(parseCacheExport('type=inline')).toEqual({ type: 'inline' });
    expect(parseCacheImport('r.example/app:cache')).toEqual({ type: 'registry', ref: 'r.example/app:cache' });
    expect(parseCacheImport('type=local,src=/tmp/c,tag=v2')).toEqual({ type: 'local', dir: '/tmp/c', tag: 'v2' });
  });

  it('reads a registry ref as the image-location parser does: a plain reference or docker://REF', () => {
    expect(parseCacheImport('docker://r.example/app:cache')).toEqual({ type: 'registry', ref: 'r.example/app:cache' });
    expect(parseCacheExport('type=registry,ref=docker://r.example/app:cache')).toEqual({ type: 'registry', ref: 'r.example/app:cache', mode: 'min' });
    expect(() => parseCacheImport('oci:/tmp/c')).toThrow(/not oci:\/tmp\/c \(an OCI layout is type=local\)/);
    expect(() => parseCacheExport('type=registry,ref=docker://')).toThrow(CacheSpecError);
  });

  it.each([
    ['type=registry', /needs ref=/],
    ['type=registry,ref=x,mode=all', /mode must be min or max/],
    ['type=s3,bucket=x', /type must be registry, local or inline/],
    ['type=inline,mode=max', /only supports mode=min/],
    ['type=local,dest=/x,compression=zstd', /unknown field "compression"/],
  ])('refuses %s', (value, message) => {
    expect(() => parseCacheExport(value)).toThrow(CacheSpecError);
    expect(() => parseCacheExport(value)).toThrow(message);
  });

  it('a bad value is one line and exit 125, before anything is built', async () => {
    const out = await tsbuild(['build', '--cache-from', 'type=local', '/nonexistent-context']);
    expect(out.code).toBe(125);
    expect(out.stderr).toBe('tsbuild: error: invalid --cache-from "type=local": needs src= (e.g. type=local,src=./cache)\n');
  });
});

describe('the cache artifact', () => {
  const records: CacheRecord[] = [
    { key: key('1'), parent: key('0'), created: '2024-01-01T00:00:00Z', layer: { descriptor: layer('a'), diffId: parseDigest(`sha256:${'d'.repeat(64)}`) } },
    { key: key('2'), parent: key('1'), created: '2024-01-01T00:00:01Z' },
    { key: key('3'), parent: key('2'), created: '2024-01-01T00:00:02Z', layer: { descriptor: layer('b'), diffId: parseDigest(`sha256:${'e'.repeat(64)}`) } },
  ];

  it('round-trips: the manifest lists each layer once, the config names them by index', () => {
    const artifact = cacheArtifact([...records, { ...records[2]!, key: key('4') }]);
    const manifest = JSON.parse(artifact.manifest.bytes.toString()) as { config: { mediaType: string }; layers: unknown[] };
    expect(manifest.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    expect(manifest.layers).toHaveLength(2);
    const parsed = parseCacheConfig(JSON.parse(artifact.config.bytes.toString()), artifact.layers);
    expect([...parsed.values()].slice(0, 3)).toEqual(records);
    expect(parsed.get(key('4'))?.layer?.descriptor.digest).toBe(layer('b').digest);
  });

  it.each([
    ['not an object', null],
    ['another version', { schemaVersion: 2, steps: [] }],
    ['a key that is not a hash', { schemaVersion: 1, steps: [{ key: '../x', parent: key('0'), created: 'x' }] }],
    ['a layer out of range', { schemaVersion: 1, steps: [{ key: key('1'), parent: key('0'), created: 'x', layer: 5, diffId: `sha256:${'d'.repeat(64)}` }] }],
    ['a bad diffId', { schemaVersion: 1, steps: [{ key: key('1'), parent: key('0'), created: 'x', layer: 0, diffId: 'md5:zz' }] }],
  ])('refuses a config with %s', (_what, doc) => {
    expect(() => parseCacheConfig(doc, [layer('a')])).toThrow(CacheFormatError);
  });
});
