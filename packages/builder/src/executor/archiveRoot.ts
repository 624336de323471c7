import { createReadStream } from 'node:fs';
import { decompressStream, normaliseLayerPath, TarParser, type TarMember } from '@tsbuild/oci-layout';

/**
 * The `./` member of a local archive: the metadata (owner, mode, mtime) of the directory
 * it is unpacked into. Layer readers drop it (it describes the rootfs, not a change), but
 * `ADD archive.tar.gz /dir/` gives /dir that metadata, as buildah and docker do. Reading
 * stops at the first non-root member after it, or at the end when the archive has none.
 */
export async function readArchiveRoot(archive: string): Promise<TarMember | undefined> {
  let root: TarMember | undefined;
  let pastRoot = false;
  const parser = new TarParser({
    member(member) {
      if (normaliseLayerPath(member.name) === '' && member.typeflag === '5') root = member;
      else pastRoot ||= root !== undefined;
    },
    content() {},
    memberEnd() {},
  });
  const input = createReadStream(archive);
  try {
    for await (const chunk of decompressStream(input)) {
      parser.write(chunk as Buffer);
      if (pastRoot || parser.ended) break;
    }
  } finally {
    input.destroy();
  }
  return root;
}
