import { parseUserSpec, resolveUserSpec, userDatabaseOf } from '@tsbuild/oci-layout';
import type { ImageFilesystem } from './imageFilesystem.js';
import type { Owner } from './copyPlanner.js';

/**
 * `--chown=user[:group]` (and the owner of a WORKDIR a USER creates), as
 * Docker documents it: a user without a group gets the gid equal to its uid.
 * The spec is read by the same rules as USER in config.json, so a numeric
 * field is never looked up as a name and an id above 2^31-1 is an error;
 * names are looked up in the image's own /etc/passwd and /etc/group as the
 * build has them so far.
 */
export async function resolveOwner(spec: string, fs: ImageFilesystem): Promise<Owner> {
  const parsed = parseUserSpec(spec);
  const files: Partial<Record<'/etc/passwd' | '/etc/group', string>> = {};
  if (parsed.user?.kind === 'name' || parsed.group?.kind === 'name') {
    for (const file of ['/etc/passwd', '/etc/group'] as const) {
      const data = await fs.readRemembered(file);
      if (data) files[file] = data.toString('utf8');
    }
  }
  const { uid, gid } = await resolveUserSpec(userDatabaseOf(files), parsed);
  return { uid, gid: parsed.group === undefined ? uid : gid };
}
