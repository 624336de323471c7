import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { resolveUser } from '@tsbuild/oci-layout';
import type { ImageFilesystem } from './imageFilesystem.js';
import type { Owner } from './copyPlanner.js';

/**
 * `--chown=user[:group]`, as Docker documents it: a user without a group
 * gets the gid equal to its uid; names are looked up in the image's own
 * /etc/passwd and /etc/group as the build has them so far.
 */
export async function resolveOwner(spec: string, fs: ImageFilesystem): Promise<Owner> {
  const [user, group] = spec.split(':', 2) as [string, string | undefined];
  const numeric = (s: string) => /^\d+$/.test(s);
  if (numeric(user) && (group === undefined || numeric(group))) {
    return { uid: Number(user), gid: group === undefined ? Number(user) : Number(group) };
  }
  // resolveUser reads the files inside a root directory; give it one holding just these two files.
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-users-'));
  try {
    await mkdir(join(root, 'etc'));
    for (const file of ['passwd', 'group']) {
      const data = await fs.readRemembered(`/etc/${file}`);
      if (data) await writeFile(join(root, 'etc', file), data);
    }
    const { uid, gid } = await resolveUser(root, spec);
    return { uid, gid: group === undefined ? uid : gid };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
