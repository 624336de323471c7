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

/** Why a user spec could not be resolved: `invalid` for a malformed spec, `not-found` for an unknown name, `unreadable` for a bad /etc file. */
export class UserLookupError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not-found' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The highest uid/gid accepted. runc and umoci (moby/sys/user) refuse anything
 * above int32, whatever the kernel allows, so a bigger id could only fail
 * later in runc or wrap to 0 in a uint32 conversion.
 */
export const MAX_ID = 0x7fff_ffff;

/** One side of `user[:group]`: an id taken as is, or a name to look up. */
export type IdField = { kind: 'id'; id: number } | { kind: 'name'; name: string };

/** A `USER`/`--chown` spec parsed once; an absent side was empty in the spec. */
export interface UserSpec {
  user?: IdField;
  group?: IdField;
}

/** A plain decimal in 0..MAX_ID, or undefined. */
function decimalId(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

/**
 * A field that starts like a number (a digit or a sign) is a number, as
 * moby/sys/user reads whatever strconv.Atoi accepts as one: it is never looked
 * up as a name, so a passwd line named `4294967296` cannot stand in for it.
 * It must then be a plain decimal in range; runc also refuses negative and
 * too-large ids. We refuse a leading `+` and a hex-looking `0x10` too, where
 * runc would read uid 10 or look up a name: neither is a sane uid or name.
 */
function parseIdField(text: string, field: 'user' | 'group', spec: string): IdField {
  if (!/^[0-9+-]/.test(text)) return { kind: 'name', name: text };
  const id = decimalId(text);
  if (id === undefined) {
    const what = field === 'user' ? 'uid' : 'gid';
    throw new UserLookupError('invalid', `invalid user spec ${JSON.stringify(spec)}: ${field} ${JSON.stringify(text)} is not a ${what} (a decimal from 0 to ${MAX_ID})`);
  }
  return { kind: 'id', id };
}

/**
 * `user[:group]` (`uid`, `uid:gid`, `name`, `name:group`, `uid:group`,
 * `name:gid`). An empty side is absent, as moby/sys/user has it: `""` is root,
 * `1000:` is `1000` and `:50` is root with gid 50. More than one colon is an
 * error (runc ignores what follows the second).
 */
export function parseUserSpec(spec: string): UserSpec {
  const parts = spec.split(':');
  if (parts.length > 2) throw new UserLookupError('invalid', `invalid user spec ${JSON.stringify(spec)}: expected user[:group]`);
  const out: UserSpec = {};
  if (parts[0]) out.user = parseIdField(parts[0], 'user', spec);
  if (parts[1]) out.group = parseIdField(parts[1], 'group', spec);
  return out;
}

function isDataLine(line: string): boolean {
  return line !== '' && !line.startsWith('#');
}

/**
 * One `/etc/passwd` line (`name:password:uid:gid:gecos:home:shell`); undefined
 * for comments, blanks and lines too broken to use. A uid or gid that is not a
 * decimal in range skips the line: runc's parser would read it as 0 (root) or
 * as an id it then refuses. A line that simply ends before the gid has gid 0,
 * as runc reads it.
 */
export function parsePasswdLine(raw: string): PasswdEntry | undefined {
  const line = raw.trim();
  if (!isDataLine(line)) return undefined;
  const f = line.split(':');
  const uid = decimalId(f[2] ?? '');
  const gid = f[3] === undefined ? 0 : decimalId(f[3]);
  if (!f[0] || uid === undefined || gid === undefined) return undefined;
  return { name: f[0], uid, gid, home: f[5] ?? '' };
}

/** One `/etc/group` line (`name:password:gid:member,member`); undefined for comments, blanks and lines without a usable gid. */
export function parseGroupLine(raw: string): GroupEntry | undefined {
  const line = raw.trim();
  if (!isDataLine(line)) return undefined;
  const f = line.split(':');
  const gid = decimalId(f[2] ?? '');
  if (!f[0] || gid === undefined) return undefined;
  const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
  return { name: f[0], gid, members };
}

/** Where the lines of `/etc/passwd` and `/etc/group` come from. */
export interface UserDatabase {
  lines(file: '/etc/passwd' | '/etc/group'): AsyncIterable<string>;
}

/**
 * The user database of an unpacked rootfs, read through `resolveInRoot` so
 * that a symlinked `/etc/passwd` is followed as the container would see it
 * and can never reach a host file. A missing file has no lines; anything but
 * a regular file (a FIFO would block forever, a device could be endless) is
 * an error.
 */
export function rootfsUserDatabase(rootfs: string): UserDatabase {
  return { lines: (file) => linesInRoot(rootfs, file) };
}

/** A user database held in memory, as a builder has the files of the image it is building. */
export function userDatabaseOf(files: Partial<Record<'/etc/passwd' | '/etc/group', string>>): UserDatabase {
  return {
    async *lines(file) {
      yield* (files[file] ?? '').split(/\r?\n/);
    },
  };
}

async function* linesInRoot(rootfs: string, path: string): AsyncGenerator<string> {
  const hostPath = await resolveInRoot(rootfs, path, { followFinal: true });
  let handle;
  try {
    handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserLookupError('unreadable', `cannot read ${path} of the image: ${(e as Error).message}`);
  }
  let input;
  let lines;
  try {
    if (!(await handle.stat()).isFile()) throw new UserLookupError('unreadable', `${path} of the image is not a regular file`);
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

async function findPasswd(db: UserDatabase, match: (e: PasswdEntry) => boolean): Promise<PasswdEntry | undefined> {
  for await (const line of db.lines('/etc/passwd')) {
    const entry = parsePasswdLine(line);
    if (entry && match(entry)) return entry;
  }
  return undefined;
}

async function groupsWhere(db: UserDatabase, match: (e: GroupEntry) => boolean, firstOnly: boolean): Promise<GroupEntry[]> {
  const found: GroupEntry[] = [];
  for await (const line of db.lines('/etc/group')) {
    const entry = parseGroupLine(line);
    if (entry && match(entry)) {
      found.push(entry);
      if (firstOnly) break;
    }
  }
  return found;
}

/**
 * Resolves a parsed `user[:group]` spec against a user database.
 *
 * Ids are taken verbatim and need no entry (a uid without a group takes its
 * passwd entry's gid if there is one, else 0); names must exist and are only
 * ever compared with the name field. Supplementary groups come from
 * /etc/group membership only when the user is named (or defaulted to root)
 * and no group is given: image-spec's conversion.md says not to add them for
 * a numeric user or an explicit group, and runc/umoci do the same for the
 * named form.
 */
export async function resolveUserSpec(db: UserDatabase, spec: UserSpec): Promise<ResolvedUser> {
  const user = spec.user ?? { kind: 'id', id: 0 };
  const entry =
    user.kind === 'id'
      ? await findPasswd(db, (e) => e.uid === user.id)
      : await findPasswd(db, (e) => e.name === user.name);
  if (user.kind === 'name' && !entry) {
    throw new UserLookupError('not-found', `user "${user.name}" not found in /etc/passwd of the image`);
  }
  const uid = user.kind === 'id' ? user.id : entry!.uid;
  const named = entry !== undefined && (spec.user === undefined || user.kind === 'name');

  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  const group = spec.group;
  if (group?.kind === 'id') {
    gid = group.id;
  } else if (group?.kind === 'name') {
    const [found] = await groupsWhere(db, (g) => g.name === group.name, true);
    if (!found) throw new UserLookupError('not-found', `group "${group.name}" not found in /etc/group of the image`);
    gid = found.gid;
  } else if (named) {
    const memberOf = await groupsWhere(db, (g) => g.members.includes(entry!.name), false);
    additionalGids = [...new Set(memberOf.map((g) => g.gid))];
  }

  const out: ResolvedUser = { uid, gid, additionalGids };
  if (entry?.home) out.home = entry.home;
  return out;
}

/** `resolveUserSpec` for a spec string against the rootfs' own /etc/passwd and /etc/group. */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  return resolveUserSpec(rootfsUserDatabase(rootfs), parseUserSpec(spec));
}
