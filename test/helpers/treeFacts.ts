import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface NodeFacts {
  type: string;
  mode?: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  mtimeMs: number;
  /** First path (in walk order) sharing this inode, for regular files with more than one link. */
  hardLinkOf?: string;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Everything observable about a tree that an unpacker is responsible for (xattrs are checked separately). */
export async function describeTree(root: string): Promise<Record<string, NodeFacts>> {
  const out: Record<string, NodeFacts> = {};
  const inodes = new Map<number, string>();
  async function walk(rel: string): Promise<void> {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs);
    const facts: NodeFacts = { type: '', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
    if (st.isDirectory()) {
      facts.type = 'dir';
      out[rel] = facts;
      for (const name of (await readdir(abs)).sort()) await walk(rel === '.' ? name : `${rel}/${name}`);
      return;
    }
    if (st.isSymbolicLink()) {
      facts.type = 'symlink';
      facts.target = await readlink(abs);
      delete facts.mode;
    } else if (st.isFile()) {
      facts.type = 'file';
      facts.size = st.size;
      facts.sha256 = await sha256File(abs);
      if (st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first) facts.hardLinkOf = first;
        else inodes.set(st.ino, rel);
      }
    } else {
      facts.type = st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'socket';
      facts.rdev = st.rdev;
    }
    out[rel] = facts;
  }
  await walk('.');
  return out;
}
