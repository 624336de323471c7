import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { resolveInRoot } from './securePath.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** What a `USER`/`--chown` spec names, in numbers the kernel understands. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups; filled only when the user was named without a group (see `resolveUser`). */
  additionalGids: number[];
  /** The passwd entry's home directory, when the user has one. */
  home?: string;
}

export class UserLookupError extends Error {}

const MAX_ID = 0xffff_ffff;

/** A decimal uid/gid, or undefined when `text` is a name. */
function numericId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

function isDataLine(line: string): boolean {
  return line !== '' && !line.startsWith('#');
}

/** One `/etc/passwd` line (`name:password:uid:gid:gecos:home:shell`); undefined for comments, blanks and lines too broken to use. */
export function parsePasswdLine(raw: string): PasswdEntry | undefined {
  const line = raw.trim();
  if (!isDataLine(line)) return undefined;
  const f = line.split(':');
  const uid = numericId(f[2] ?? '');
  if (!f[0] || uid === undefined) return undefined;
  return { name: f[0], uid, gid: numericId(f[3] ?? '') ?? 0, home: f[5] ?? '' };
}

/** One `/etc/group` line (`name:password:gid:member,member`); undefined for comments, blanks and unusable lines. */
export function parseGroupLine(raw: string): GroupEntry | undefined {
  const line = raw.trim();
  if (!isDataLine(line)) return undefined;
  const f = line.split(':');
  const gid = numericId(f[2] ?? '');
  if (!f[0] || gid === undefined) return undefined;
  const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
  return { name: f[0], gid, members };
}

/**
 * Lines of a file of the image, read through `resolveInRoot` so that a
 * symlinked `/etc/passwd` is followed as the container would see it and can
 * never reach a host file. A missing file has no lines; anything but a regular
 * file (a FIFO would block forever, a device could be endless) is an error.
 */
async function* linesInRoot(rootfs: string, path: string): AsyncGenerator<string> {
  const hostPath = await resolveInRoot(rootfs, path, { followFinal: true });
  let handle;
  try {
    handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserLookupError(`cannot read ${path} of the image: ${(e as Error).message}`);
  }
  let input;
  let lines;
  try {
    if (!(await handle.stat()).isFile()) throw new UserLookupError(`${path} of the image is not a regular file`);
    input = handle.createReadStream({ autoClose: false });
    lines = createInterface({ input, crlfDelay: Infinity });
    yield* lines;
  } finally {
    // A caller that found its entry stops early: release the stream before the handle.
    lines?.close();
    input?.destroy();
    await handle.close();
  }
}

async function findPasswd(rootfs: string, match: (e: PasswdEntry) => boolean): Promise<PasswdEntry | undefined> {
  for await (const line of linesInRoot(rootfs, '/etc/passwd')) {
    const entry = parsePasswdLine(line);
    if (entry && match(entry)) return entry;
  }
  return undefined;
}

async function groupsWhere(rootfs: string, match: (e: GroupEntry) => boolean, firstOnly: boolean): Promise<GroupEntry[]> {
  const found: GroupEntry[] = [];
  for await (const line of linesInRoot(rootfs, '/etc/group')) {
    const entry = parseGroupLine(line);
    if (entry && match(entry)) {
      found.push(entry);
      if (firstOnly) break;
    }
  }
  return found;
}

/**
 * Resolves a `user[:group]` spec (`uid`, `uid:gid`, `name`, `name:group`,
 * `uid:group`, `name:gid`; empty means root) against the rootfs' own
 * /etc/passwd and /etc/group.
 *
 * Numbers are taken verbatim and need no entry (a numeric uid without a group
 * takes its passwd entry's gid if there is one, else 0); names must exist.
 * Supplementary groups come from /etc/group membership only when the user is
 * named (or defaulted to root) and no group is given: image-spec's
 * conversion.md says not to add them for a numeric user or an explicit group,
 * and runc/umoci do the same for the named form.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const parts = spec.split(':');
  if (parts.length > 2) throw new UserLookupError(`invalid user "${spec}": expected user[:group]`);
  const userPart = parts[0]!;
  const groupPart = parts[1] ?? '';

  const numericUid = userPart === '' ? 0 : numericId(userPart);
  const entry =
    numericUid !== undefined
      ? await findPasswd(rootfs, (e) => e.uid === numericUid)
      : await findPasswd(rootfs, (e) => e.name === userPart);
  if (numericUid === undefined && !entry) {
    throw new UserLookupError(`user "${userPart}" not found in /etc/passwd of the image`);
  }
  const uid = numericUid ?? entry!.uid;
  const named = entry !== undefined && (userPart === '' || numericUid === undefined);

  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== '') {
    const numericGid = numericId(groupPart);
    if (numericGid !== undefined) {
      gid = numericGid;
    } else {
      const [group] = await groupsWhere(rootfs, (g) => g.name === groupPart, true);
      if (!group) throw new UserLookupError(`group "${groupPart}" not found in /etc/group of the image`);
      gid = group.gid;
    }
  } else if (named) {
    const memberOf = await groupsWhere(rootfs, (g) => g.members.includes(entry!.name), false);
    additionalGids = [...new Set(memberOf.map((g) => g.gid))];
  }

  const out: ResolvedUser = { uid, gid, additionalGids };
  if (entry?.home) out.home = entry.home;
  return out;
}
