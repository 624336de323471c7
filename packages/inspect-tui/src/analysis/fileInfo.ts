import { createHash } from 'node:crypto';
import type { EntryType, LayerEntry } from '@tsbuild/oci-layout';

/** What the analysis keeps of one filesystem object: enough to compare it across layers, never its bytes. */
export interface FileInfo {
  type: EntryType;
  /** Bytes of content (tar header size): 0 for anything but regular files. */
  size: number;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  /** sha256 of the content of a regular file (base64), so equal bytes compare equal without keeping them. */
  hash?: string;
}

/** How a layer's version of a path relates to what the layers below had there. */
export type ChangeMark = 'added' | 'modified' | 'removed' | 'unmodified';

/** Reads (and so drains) the content of a regular file entry while taking its attributes. */
export async function fileInfoOf(entry: LayerEntry): Promise<FileInfo> {
  const info: FileInfo = { type: entry.type, size: entry.size, mode: entry.mode, uid: entry.uid, gid: entry.gid };
  if (entry.linkname !== undefined) info.linkname = entry.linkname;
  const content = entry.content;
  if (content) {
    const hash = createHash('sha256');
    // Events rather than `for await`: an async iterator per file costs more than hashing a small file.
    await new Promise<void>((resolve, reject) => {
      content.on('data', (chunk: Buffer) => hash.update(chunk));
      content.once('end', resolve);
      content.once('error', reject);
    });
    info.hash = hash.digest('base64');
  }
  return info;
}

/**
 * dive's comparison (type, content hash, mode, uid, gid) plus the link
 * target, which dive ignores: a symlink re-pointed elsewhere is a change.
 */
export function sameFile(a: FileInfo, b: FileInfo): boolean {
  return (
    a.type === b.type &&
    a.hash === b.hash &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    (a.linkname ?? '') === (b.linkname ?? '')
  );
}

/** The directory a tar implies for a path's parents when it has no entry of their own. */
export const IMPLIED_DIRECTORY: FileInfo = Object.freeze({ type: 'directory', size: 0, mode: 0o755, uid: 0, gid: 0 });
