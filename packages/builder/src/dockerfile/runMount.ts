/** `RUN --mount=...` values, parsed the way BuildKit's instructions/commands_runmount.go does. */

export type RunMountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface RunMount {
  type: RunMountType;
  /** Absent for secret/ssh mounts without a target: the executor picks BuildKit's default path. */
  target?: string;
  source?: string;
  /** Stage name/index or image the mount reads from (bind, cache). */
  from?: string;
  readonly: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  /** Secret mounts: expose the secret as this environment variable. */
  env?: string;
  /** tmpfs size in bytes. */
  size?: number;
}

export class RunMountError extends Error {}

const TYPES = new Set<RunMountType>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const SHARING = new Set(['shared', 'private', 'locked']);

/** Comma-separated fields; a field may be double-quoted to contain commas (encoding/csv rules). */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new RunMountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new RunMountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    }
    fields.push(field);
    i++;
  }
  return fields;
}

function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new RunMountError(`invalid value for ${key}: ${value}`);
}

function parseUint(what: string, value: string, radix: number): number {
  const ok = radix === 8 ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
  if (!ok) throw new RunMountError(`invalid value ${value} for ${what}`);
  return parseInt(value, radix);
}

/** Parses one --mount value; `expand` is applied to every value (not to keys), as in BuildKit. */
export function parseRunMount(text: string, expand: (value: string) => string): RunMount {
  const m: RunMount = { type: 'bind', readonly: false };
  let readonlyAuto = true;
  for (const field of csvFields(text)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readonly = true;
        readonlyAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        m.readonly = false;
        readonlyAuto = false;
      } else if (key === 'required' && (m.type === 'secret' || m.type === 'ssh')) m.required = true;
      else if (key === 'required') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
      else throw new RunMountError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const value = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const t = value.toLowerCase() as RunMountType;
        if (!TYPES.has(t)) throw new RunMountError(`unsupported mount type "${value}"`);
        m.type = t;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = parseBool(key, value);
        readonlyAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !parseBool(key, value);
        readonlyAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, value);
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new RunMountError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.size = parseSize(value);
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing':
        if (!SHARING.has(value.toLowerCase())) throw new RunMountError(`unsupported sharing value "${value}"`);
        m.sharing = value.toLowerCase() as RunMount['sharing'];
        break;
      case 'mode':
        m.mode = parseUint('mode', value, 8);
        break;
      case 'uid':
        m.uid = parseUint('uid', value, 10);
        break;
      case 'gid':
        m.gid = parseUint('gid', value, 10);
        break;
      case 'env':
        m.env = value;
        break;
      default:
        throw new RunMountError(`unexpected key '${key}' in '${field}'`);
    }
  }
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  for (const k of ['mode', 'uid', 'gid'] as const) {
    if (m[k] !== undefined && !fileInfoAllowed) throw new RunMountError(`${k} not allowed for "${m.type}" type mounts`);
  }
  if (readonlyAuto) m.readonly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== undefined) throw new RunMountError('secret mount should not have a from');
    if (m.sharing !== undefined) throw new RunMountError('secret mount should not define sharing');
    if (m.source === undefined && m.target === undefined && m.id === undefined && m.env === undefined) {
      throw new RunMountError('invalid secret mount. one of source, target required');
    }
    if (m.source !== undefined && m.id !== undefined) throw new RunMountError("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') throw new RunMountError(`invalid cache sharing set for ${m.type} mount`);
  if (m.target === undefined && m.type !== 'secret' && m.type !== 'ssh') throw new RunMountError('mount target not set');
  return m;
}

/** Docker's units.RAMInBytes: "64m", "1g", "512k", plain bytes. */
function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value);
  if (!m) throw new RunMountError(`invalid value for size: ${value}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as '' | 'k'];
  return Math.floor(parseFloat(m[1]!) * unit);
}

/** The `from=` of a mount, read without expansion (stage dependencies are known before any ARG runs). */
export function mountSourceStage(text: string): string | undefined {
  try {
    for (const field of csvFields(text)) {
      const eq = field.indexOf('=');
      if (eq > 0 && field.slice(0, eq).toLowerCase() === 'from') return field.slice(eq + 1);
    }
  } catch (e) {
    // Unbalanced quotes: parsing the mount itself reports them.
    if (e instanceof RunMountError) return undefined;
    throw e;
  }
  return undefined;
}
