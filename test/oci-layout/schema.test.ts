import { describe, expect, it } from 'vitest';
import { digestOf, InvalidDocumentError, MediaType, parseDigest, parseImageConfig, parseIndex, parseManifest } from '@tsbuild/oci-layout';

const D = digestOf('x');
const descriptor = (mediaType: string) => ({ mediaType, digest: D, size: 1 });
const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: descriptor(MediaType.ociConfig),
  layers: [descriptor(MediaType.ociLayerGzip)],
};

describe('digests', () => {
  it('accepts sha256 and sha512, rejects anything malformed', () => {
    expect(parseDigest(D)).toBe(D);
    const sha512 = digestOf('x', 'sha512');
    expect(parseDigest(sha512)).toBe(sha512);
    for (const bad of ['sha256:abc', 'md5:' + 'a'.repeat(32), D.toUpperCase(), `${D}0`, 'sha256', 42]) {
      expect(() => parseDigest(bad)).toThrow();
    }
  });
});

describe('documents are validated against what referred to them', () => {
  it('parses a manifest', () => {
    expect(parseManifest(JSON.stringify(manifest), MediaType.ociManifest).layers[0]?.digest).toBe(D);
  });

  it('rejects a manifest whose mediaType differs from its descriptor (CVE-2021-41190 class)', () => {
    expect(() => parseManifest(JSON.stringify(manifest), MediaType.dockerManifest)).toThrow(/does not match/);
    expect(() => parseManifest(JSON.stringify(manifest), MediaType.ociIndex)).toThrow(/not a manifest type/);
  });

  it('rejects a document that is both a manifest and an index', () => {
    const ambiguous = JSON.stringify({ ...manifest, manifests: [] });
    expect(() => parseManifest(ambiguous)).toThrow(/this is an index/);
    expect(() => parseIndex(ambiguous)).toThrow(/this is a manifest/);
  });

  it('rejects an index referenced as something else, and malformed descriptors', () => {
    const index = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [descriptor(MediaType.ociManifest)] });
    expect(parseIndex(index, MediaType.ociIndex).manifests).toHaveLength(1);
    expect(() => parseIndex(index, MediaType.dockerManifestList)).toThrow(/does not match/);
    expect(() => parseIndex(index, MediaType.ociManifest)).toThrow(/not an index type/);
    const badSize = JSON.stringify({ ...manifest, layers: [{ ...descriptor(MediaType.ociLayerGzip), size: -1 }] });
    expect(() => parseManifest(badSize)).toThrow(InvalidDocumentError);
    expect(() => parseManifest('{not json')).toThrow(/not JSON/);
    expect(() => parseManifest(JSON.stringify({ ...manifest, schemaVersion: 1 }))).toThrow(/schemaVersion/);
  });

  it('reads Docker schema2 manifests too', () => {
    const docker = { ...manifest, mediaType: MediaType.dockerManifest, config: descriptor(MediaType.dockerConfig), layers: [descriptor(MediaType.dockerLayerGzip)] };
    expect(parseManifest(JSON.stringify(docker), MediaType.dockerManifest).mediaType).toBe(MediaType.dockerManifest);
  });

  it('parses an image config into typed values', () => {
    const config = parseImageConfig(JSON.stringify({
      architecture: 'amd64', os: 'linux',
      config: { Env: ['A=1'], Cmd: ['/x'], ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: [D] },
      history: [{ created_by: 'x', empty_layer: true }],
    }));
    expect(config.config?.Cmd).toEqual(['/x']);
    expect(config.rootfs.diff_ids).toEqual([D]);
    expect(() => parseImageConfig(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['nope'] } }))).toThrow();
    expect(() => parseImageConfig(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: 'A=1' }, rootfs: { type: 'layers', diff_ids: [] } }))).toThrow(/Env/);
  });
});

describe('what the fuzz harness found (test/fuzz)', () => {
  const config = (extra: object) => JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D] }, ...extra });

  it('a malformed diff_id makes the config invalid (InvalidDocumentError naming the field), not a bare digest error', () => {
    for (const bad of ['nope', `${D.slice(0, -1)}X`, 42, null]) {
      const parse = () => parseImageConfig(config({ rootfs: { type: 'layers', diff_ids: [D, bad] } }));
      expect(parse).toThrow(InvalidDocumentError);
      expect(parse).toThrow(/rootfs\.diff_ids\[1\]/);
    }
  });

  it('a malformed descriptor digest is an InvalidDocumentError naming the descriptor', () => {
    const bad = { ...manifest, layers: [{ ...descriptor(MediaType.ociLayerGzip), digest: 'sha256:abc' }] };
    expect(() => parseManifest(JSON.stringify(bad))).toThrow(InvalidDocumentError);
    expect(() => parseManifest(JSON.stringify(bad))).toThrow(/manifest layer 0/);
  });

  it('checks the Healthcheck fields instead of passing the object through', () => {
    const parsed = parseImageConfig(config({ config: { Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3, Extra: 'dropped' } } }));
    expect(parsed.config?.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 });
    for (const bad of [{ Test: 'true' }, { Test: [1] }, { Interval: '30s' }, { Retries: -1 }, { Timeout: 1.5 }, []]) {
      expect(() => parseImageConfig(config({ config: { Healthcheck: bad } })), JSON.stringify(bad)).toThrow(InvalidDocumentError);
    }
  });
});
