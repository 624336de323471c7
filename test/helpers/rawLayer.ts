import { Readable } from 'node:stream';
import tar from 'tar-stream';

/** A tar member written byte for byte as a hostile layer would have it. */
export interface RawMember {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; 0 unless given. */
  mtime?: number;
  /** PAX records, e.g. SCHILY.xattr.* */
  pax?: Record<string, string>;
  content?: string | Buffer;
}

export async function rawLayer(members: RawMember[]): Promise<Readable> {
  return Readable.from([await rawTar(members)]);
}

export async function rawTar(members: RawMember[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const member of members) {
    const body = Buffer.from(member.content ?? '');
    const type = member.type ?? 'file';
    pack.entry(
      {
        name: member.name,
        type,
        linkname: member.linkname,
        mode: member.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: member.uid ?? 0,
        gid: member.gid ?? 0,
        mtime: new Date((member.mtime ?? 0) * 1000),
        size: type === 'file' ? body.length : 0,
        ...(member.pax ? { pax: member.pax } : {}),
      },
      type === 'file' ? body : Buffer.alloc(0),
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

