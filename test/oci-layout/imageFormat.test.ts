import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  asDockerImage, asOciImage, canonicalJson, checkCompressionForFormat, digestOf, IMAGE_FORMAT_ANNOTATION, ImageFormatError, inRecordedFormat, MediaType,
  parseManifest, recordedManifestType, type Image, type Manifest,
} from '@tsbuild/oci-layout';

const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const configBytes = canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });

function image(layerTypes: string[], annotations?: Record<string, string>): Image {
  const layers = layerTypes.map((mediaType, i) => {
    const digest = digestOf(`layer ${i}`);
    return { descriptor: { mediaType, digest, size: 10 + i, ...(mediaType.includes('nondistributable') ? { urls: ['https://example.com/l'] } : {}) }, diffId: digest, open: async () => Readable.from([]) };
  });
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: digestOf(configBytes), size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
    ...(annotations ? { annotations } : {}),
  };
  const manifestBytes = canonicalJson(manifest);
  return { manifest, manifestBytes, manifestDigest: digestOf(manifestBytes), configBytes, config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, layers };
}

describe('Docker schema2 conversion', () => {
  it('keeps config and layer blobs, maps gzip, plain and foreign layers, and drops annotations', () => {
    const oci = image([MediaType.ociLayerGzip, MediaType.ociLayerTar, MediaType.ociLayerNondistributableGzip], { [IMAGE_FORMAT_ANNOTATION]: 'docker' });
    const docker = asDockerImage(oci);
    const parsed = parseManifest(docker.manifestBytes, MediaType.dockerManifest);
    expect(parsed).toEqual(docker.manifest);
    expect(docker.manifestDigest).toBe(digestOf(docker.manifestBytes));
    expect(docker.manifest).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: oci.manifest.config.digest },
      layers: [
        { mediaType: MediaType.dockerLayerGzip, size: 10, digest: oci.layers[0]!.descriptor.digest },
        { mediaType: DOCKER_LAYER_TAR, size: 11, digest: oci.layers[1]!.descriptor.digest },
        { mediaType: MediaType.dockerLayerForeignGzip, size: 12, digest: oci.layers[2]!.descriptor.digest, urls: ['https://example.com/l'] },
      ],
    });
    expect(docker.layers.map((l) => l.descriptor)).toEqual(docker.manifest.layers);
    expect(docker.configBytes).toBe(oci.configBytes);
  });

  it('refuses zstd layers with a one-line error that exits 125', () => {
    const zstd = image([MediaType.ociLayerGzip, MediaType.ociLayerZstd]);
    expect(() => asDockerImage(zstd)).toThrow(ImageFormatError);
    expect(() => asDockerImage(zstd)).toThrow(/^layer sha256:[0-9a-f]{64} \(application\/vnd\.oci\.image\.layer\.v1\.tar\+zstd\) cannot be in a Docker schema2 image: use --format oci$/);
    try {
      checkCompressionForFormat('docker', 'zstd');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ImageFormatError);
      expect((e as ImageFormatError).exitCode).toBe(125);
    }
    expect(() => checkCompressionForFormat('oci', 'zstd')).not.toThrow();
    expect(() => checkCompressionForFormat('docker', 'gzip')).not.toThrow();
  });

  it('converts only images recorded as docker format; schema2 comes back to OCI with the same blobs', () => {
    const plain = image([MediaType.ociLayerZstd]);
    expect(inRecordedFormat(plain)).toBe(plain);
    expect(recordedManifestType(plain.manifest)).toBe(MediaType.ociManifest);
    const marked = image([MediaType.ociLayerGzip], { [IMAGE_FORMAT_ANNOTATION]: 'docker' });
    expect(recordedManifestType(marked.manifest)).toBe(MediaType.dockerManifest);
    const docker = inRecordedFormat(marked);
    expect(docker.manifest.mediaType).toBe(MediaType.dockerManifest);
    expect(asDockerImage(docker)).toBe(docker);
    const back = asOciImage(docker);
    expect(back.manifest.mediaType).toBe(MediaType.ociManifest);
    expect(back.manifest.config).toEqual({ ...marked.manifest.config });
    expect(back.manifest.layers).toEqual(marked.manifest.layers);
  });
});
