/**
 * Mutations. Each is `{ name, apply(rng, input, ctx) }` returning a new
 * Buffer; `ctx.seeds` holds the target's seed inputs (for splices). Names
 * matter: a test can leave out a class of mutation that fails until a fix
 * is merged (see KNOWN_AFTER_MERGE in fuzz.test.ts).
 */
import { archive, extension, header, headerOffsets, member, NUMERIC_FIELDS, paxRecord, writeChecksum } from './tarCraft.mjs';

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x20, 0x2f, 0x2e, 0x30, 0x37, 0x38, 0x0a, 0x3d];

export const flipBit = {
  name: 'flip-bit',
  apply(rng, input) {
    if (input.length === 0) return input;
    const out = Buffer.from(input);
    const at = rng.below(out.length);
    out[at] ^= 1 << rng.below(8);
    return out;
  },
};

export const setByte = {
  name: 'set-byte',
  apply(rng, input) {
    if (input.length === 0) return input;
    const out = Buffer.from(input);
    out[rng.below(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
    return out;
  },
};

export const truncate = {
  name: 'truncate',
  apply(rng, input) {
    return input.subarray(0, rng.below(input.length + 1));
  },
};

export const deleteRange = {
  name: 'delete-range',
  apply(rng, input) {
    const at = rng.below(input.length + 1);
    const length = rng.below(Math.min(input.length - at, 1024) + 1);
    return Buffer.concat([input.subarray(0, at), input.subarray(at + length)]);
  },
};

export const duplicateRange = {
  name: 'duplicate-range',
  apply(rng, input) {
    const at = rng.below(input.length + 1);
    const length = rng.below(Math.min(input.length - at, 2048) + 1);
    const to = rng.below(input.length + 1);
    const piece = input.subarray(at, at + length);
    return Buffer.concat([input.subarray(0, to), piece, input.subarray(to)]);
  },
};

export const insertRandom = {
  name: 'insert-random',
  apply(rng, input) {
    const at = rng.below(input.length + 1);
    return Buffer.concat([input.subarray(0, at), rng.bytes(rng.between(1, 32)), input.subarray(at)]);
  },
};

/** The head of this input joined to the tail of another seed. */
export const splice = {
  name: 'splice',
  apply(rng, input, ctx) {
    const other = rng.pick(ctx.seeds);
    return Buffer.concat([input.subarray(0, rng.below(input.length + 1)), other.subarray(rng.below(other.length + 1))]);
  },
};

export const BYTE_MUTATORS = [flipBit, setByte, truncate, deleteRange, duplicateRange, insertRandom, splice];

// ---- tar-aware mutations ----

/** A header block to change in place: one that looks like a header, else the first block. */
function pickHeader(rng, input) {
  const offsets = headerOffsets(input);
  return offsets.length > 0 ? rng.pick(offsets) : input.length >= 512 ? 0 : undefined;
}

/** Encodings of a numeric field that real writers emit, and ones that none should. */
function numericValue(rng, width) {
  const field = Buffer.alloc(width);
  switch (rng.below(8)) {
    case 0: // largest octal the field holds
      field.write(`${'7'.repeat(width - 1)}\0`, 'latin1');
      break;
    case 1: // base-256 negative (-1 .. -2^k)
      field.fill(0xff);
      if (rng.chance(0.5)) field[width - 1] = rng.below(256);
      break;
    case 2: // base-256 positive, possibly beyond 2^53
      field[0] = 0x80;
      for (let i = rng.between(1, width - 1); i < width; i++) field[i] = rng.below(256);
      break;
    case 3: // all spaces or all NULs
      field.fill(rng.chance(0.5) ? 0x20 : 0);
      break;
    case 4: // not digits
      field.write(`${'9x-+'.charAt(rng.below(4))}${rng.below(1000)}`, 'latin1');
      break;
    case 5: // a small octal number
      field.write(`${rng.below(0o10000).toString(8).padStart(width - 1, '0')}\0`, 'latin1');
      break;
    case 6: // octal with no terminator
      field.write('1'.repeat(width), 'latin1');
      break;
    default: // base-256 for a value that fits octal
      field[0] = 0x80;
      field.writeUInt32BE(rng.below(0x10000), width - 4);
  }
  return field;
}

/** Rewrites a numeric field (mode, uid, gid, size, mtime, devmajor, devminor) of one header, usually keeping its checksum valid. */
export const tarNumeric = {
  name: 'tar-numeric',
  apply(rng, input) {
    const at = pickHeader(rng, input);
    if (at === undefined) return input;
    const out = Buffer.from(input);
    const [offset, width] = NUMERIC_FIELDS[rng.pick(Object.keys(NUMERIC_FIELDS))];
    numericValue(rng, width).copy(out, at + offset);
    if (rng.chance(0.9)) writeChecksum(out, at);
    return out;
  },
};

export const tarTypeflag = {
  name: 'tar-typeflag',
  apply(rng, input) {
    const at = pickHeader(rng, input);
    if (at === undefined) return input;
    const out = Buffer.from(input);
    out[at + 156] = rng.pick([0, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x4c, 0x4b, 0x78, 0x67, 0x53, 0x56, 0x4d, 0x44, 0x41, rng.below(256)]);
    writeChecksum(out, at);
    return out;
  },
};

const HOSTILE_NAMES = [
  '..', '../', '../x', '../../x', '/x', '/../x', 'a/../../x', './../x', '.', './', '', '/', '//', 'a//b', 'a/./b',
  'lnk/x', 'abs/x', 'lnk', 'abs', 'dir/../lnk/x', '../sentinel/keep', 'x/.wh..wh..opq', '.wh..wh..opq', '.wh.lnk', 'lnk/.wh.keep',
  '.wh.', '.wh..', '.wh...', 'a\0b', 'x'.repeat(100), `${'d/'.repeat(60)}x`,
];
const HOSTILE_BYTE_NAMES = [Buffer.from('hi\x80\x81\x82\x83bye', 'latin1'), Buffer.from([0xff, 0xfe, 0x2f, 0x61]), Buffer.from('caf\xc3', 'latin1')];

/** Rewrites the name or link name field of a header with a hostile name. */
export const tarName = {
  name: 'tar-name',
  apply(rng, input) {
    const at = pickHeader(rng, input);
    if (at === undefined) return input;
    const out = Buffer.from(input);
    const link = rng.chance(0.3);
    const name = rng.chance(0.2) ? rng.pick(HOSTILE_BYTE_NAMES) : Buffer.from(rng.pick(HOSTILE_NAMES));
    out.fill(0, at + (link ? 157 : 0), at + (link ? 257 : 100));
    name.copy(out, at + (link ? 157 : 0), 0, 100);
    writeChecksum(out, at);
    return out;
  },
};

/** PAX records; sizes here are all non-negative (negative ones are `tar-pax-negative-size`). */
const PAX_RECORDS = [
  ['size', '0'], ['size', '1'], ['size', '511'], ['size', '513'], ['size', '99999999999999999999'], ['size', '9007199254740993'], ['size', '1e3'],
  ['size', ''], ['size', '0x10'], ['size', ' 12'],
  ['uid', '-1'], ['uid', '4294967296'], ['gid', '2147483648'], ['uid', '1.5'], ['gid', 'x'],
  ['mtime', '-1e20'], ['mtime', 'NaN'], ['mtime', '1e400'], ['mtime', '1700000000.123456789'], ['mtime', '-0.5'],
  ['path', '../../x'], ['path', '/proc/self/cwd/sentinel/pax'], ['path', 'lnk/pax'], ['path', ''], ['path', 'a\0b'],
  ['linkpath', '../sentinel'], ['linkpath', '/proc/self/cwd/sentinel'], ['linkpath', ''], ['linkpath', 'lnk/keep'],
  ['SCHILY.xattr.user.x', 'v'], ['SCHILY.xattr.trusted.overlay.opaque', 'y'], ['SCHILY.xattr.security.capability', '\x01\x00\x00\x02'],
  ['SCHILY.xattr.', 'v'], ['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'sparse'], ['GNU.sparse.realsize', '-1'],
  ['GNU.sparse.size', '99999999999'], ['GNU.sparse.map', '0,1,2'], ['GNU.sparse.numblocks', '-5'],
];

function paxData(rng, pool) {
  const records = [];
  for (let n = rng.between(1, 3); n > 0; n--) {
    const [key, value] = rng.pick(pool);
    records.push(paxRecord(key, value));
  }
  if (rng.chance(0.1)) records.push(Buffer.from(rng.pick(['5 a=\n', '99 x=y\n', '-3 k=v\n', '3 =\n', '0 size=1\n'])));
  return Buffer.concat(records);
}

/** Inserts a PAX header before a header of the archive (or replaces nothing and prepends). */
function insertBeforeHeader(rng, input, block) {
  const offsets = headerOffsets(input);
  const at = offsets.length > 0 ? rng.pick(offsets) : 0;
  return Buffer.concat([input.subarray(0, at), block, input.subarray(at)]);
}

export const tarPax = {
  name: 'tar-pax',
  apply(rng, input) {
    return insertBeforeHeader(rng, input, extension(rng.chance(0.9) ? 'x' : 'g', paxData(rng, PAX_RECORDS)));
  },
};

/** PAX `size` records with negative values: issue 9 defect 2 (they hang the parser today). */
export const tarPaxNegativeSize = {
  name: 'tar-pax-negative-size',
  apply(rng, input) {
    const value = rng.pick(['-1', '-511', '-512', '-1536', '-1024', `-${rng.between(1, 4096)}`]);
    return insertBeforeHeader(rng, input, extension('x', paxRecord('size', value)));
  },
};

/** GNU long name (`L`) or long link name (`K`) headers carrying hostile names. */
export const tarGnuLong = {
  name: 'tar-gnu-long',
  apply(rng, input) {
    const name = rng.chance(0.2) ? rng.pick(HOSTILE_BYTE_NAMES) : Buffer.from(rng.pick(HOSTILE_NAMES));
    const data = rng.chance(0.5) ? Buffer.concat([name, Buffer.alloc(1)]) : name;
    return insertBeforeHeader(rng, input, extension(rng.chance(0.7) ? 'L' : 'K', data));
  },
};

/**
 * Hostile member sequences, as the breakout corpora build them. The unpack
 * sandbox holds `rootfs/` and beside it `sentinel/` (with `keep` and `sub/`);
 * rootfs starts with `lnk -> ../sentinel`, `abs -> /proc/self/cwd/sentinel`
 * (the child runs with the sandbox as its cwd), `dir/` and `file`.
 * Each class has a name so a failing class can be listed on its own.
 */
export const ESCAPE_CLASSES = {
  'dotdot-names': () => [member({ name: '../sentinel/pwn' }, Buffer.from('x')), member({ name: 'a/../../sentinel/pwn2' }, Buffer.from('x')), member({ name: '/../sentinel/pwn3', type: '5' })],
  'write-through-symlink': () => [member({ name: 'evil', type: '2', linkname: '../sentinel' }), member({ name: 'evil/pwn' }, Buffer.from('x')), member({ name: 'evil/sub2/', type: '5' })],
  'write-through-absolute-symlink': () => [member({ name: 'evil', type: '2', linkname: '/proc/self/cwd/sentinel' }), member({ name: 'evil/pwn' }, Buffer.from('x'))],
  'write-through-existing-symlink': () => [member({ name: 'lnk/pwn' }, Buffer.from('x')), member({ name: 'abs/pwn', type: '6' }), member({ name: 'lnk/sub/', type: '5', mode: 0o700 })],
  'metadata-on-existing-symlink': () => [member({ name: 'lnk', type: '5', mode: 0o700, uid: 1234 }), member({ name: 'abs', type: '5', mode: 0o700 })],
  'hardlink-outside': () => [member({ name: 'hl', type: '1', linkname: '../sentinel/keep' }), member({ name: 'hl2', type: '1', linkname: 'lnk/keep' }), member({ name: 'hl3', type: '1', linkname: 'abs/keep' })],
  'hardlink-then-write': () => [member({ name: 'hl', type: '1', linkname: 'lnk/keep' }), member({ name: 'hl' }, Buffer.from('overwritten'))],
  'whiteout-through-symlink': () => [member({ name: 'lnk/.wh.keep' }), member({ name: 'abs/.wh..wh..opq' })],
  'symlink-chain': () => [member({ name: 'l1', type: '2', linkname: 'l2' }), member({ name: 'l2', type: '2', linkname: '../../../../sentinel' }), member({ name: 'l1/pwn' }, Buffer.from('x'))],
  'directory-replaced-by-symlink': () => [member({ name: 'a/', type: '5' }), member({ name: 'a/sub/', type: '5', mtime: 1234 }), member({ name: 'a', type: '2', linkname: '../sentinel' })],
  'xattr-through-symlink': () => [extension('x', paxRecord('SCHILY.xattr.user.fuzz', 'v')), member({ name: 'lnk', type: '5' })],
  'device-through-symlink': () => [member({ name: 'lnk/dev', type: '3', devmajor: 1, devminor: 3 })],
};

/** Classes that write outside the rootfs today (issue 9 defect 1): the unpack branch fixes them. */
export const KNOWN_ESCAPE_CLASSES = new Set(['directory-replaced-by-symlink']);

export function escapeMutator(classes) {
  return {
    name: 'tar-escape',
    apply(rng, input) {
      const members = ESCAPE_CLASSES[rng.pick(classes)]();
      if (rng.chance(0.3)) return archive(...members);
      return insertBeforeHeader(rng, input, Buffer.concat(members));
    },
  };
}

export const TAR_MUTATORS = [tarNumeric, tarTypeflag, tarName, tarPax, tarGnuLong];

// ---- text and JSON ----

/** Inserts a token from the target's dictionary at a random place (often at a line start). */
export function insertToken(tokens) {
  return {
    name: 'insert-token',
    apply(rng, input) {
      const text = input.toString('latin1');
      let at = rng.below(text.length + 1);
      if (rng.chance(0.5)) at = text.lastIndexOf('\n', at) + 1;
      return Buffer.concat([input.subarray(0, at), Buffer.from(rng.pick(tokens)), input.subarray(at)]);
    },
  };
}

function lines(input) {
  return input.toString('latin1').split('\n');
}

export const lineShuffle = {
  name: 'line-edit',
  apply(rng, input, ctx) {
    const all = lines(input);
    const i = rng.below(all.length);
    switch (rng.below(4)) {
      case 0:
        all.splice(i, 1);
        break;
      case 1:
        all.splice(i, 0, all[rng.below(all.length)]);
        break;
      case 2: {
        const j = rng.below(all.length);
        [all[i], all[j]] = [all[j], all[i]];
        break;
      }
      default: {
        const other = lines(rng.pick(ctx.seeds));
        all.splice(i, 0, other[rng.below(other.length)]);
      }
    }
    return Buffer.from(all.join('\n'), 'latin1');
  },
};

/** Repeats one line up to 64 times in place: what amplifies line after line (`ENV A=$A$A`) shows. */
export const lineRepeat = {
  name: 'line-repeat',
  apply(rng, input) {
    const all = lines(input);
    const i = rng.below(all.length);
    all.splice(i, 0, ...Array.from({ length: 1 + rng.below(64) }, () => all[i]));
    return Buffer.from(all.join('\n'), 'latin1');
  },
};

export function textMutators(tokens) {
  return [flipBit, setByte, truncate, deleteRange, duplicateRange, splice, insertToken(tokens), lineShuffle];
}

const JSON_VALUES = [
  null, true, false, 0, -1, 1.5, 2 ** 53, 2 ** 64, -(2 ** 63), '', 'x', '\u0000', 'sha256:', `sha256:${'a'.repeat(64)}`, `sha256:${'A'.repeat(64)}`,
  `sha512:${'0'.repeat(128)}`, 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.layer.v1.tar+gzip', 'layers', 'linux', 'amd64',
  [], {}, [null], [1], ['a'], { a: 1 }, { '': '' }, JSON.parse('{"__proto__": {"x": 1}}'), { constructor: 'x', toString: 1 },
];

function jsonNodes(value, path = [], out = []) {
  out.push(path);
  if (value && typeof value === 'object') for (const key of Object.keys(value)) jsonNodes(value[key], [...path, key], out);
  return out;
}

function setAt(root, path, mutate) {
  if (path.length === 0) return mutate(root);
  let parent = root;
  for (const key of path.slice(0, -1)) parent = parent[key];
  const key = path[path.length - 1];
  const replaced = mutate(parent[key]);
  if (replaced === DELETE) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else parent[key] = replaced;
  return root;
}

const DELETE = Symbol('delete');

/** Structure-aware: replaces, deletes, duplicates or adds one JSON node (falls back to a byte flip when the input is not JSON). */
export const jsonNode = {
  name: 'json-node',
  apply(rng, input) {
    let doc;
    try {
      doc = JSON.parse(input.toString('utf8'));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return flipBit.apply(rng, input);
    }
    const path = rng.pick(jsonNodes(doc));
    const mutated = setAt(doc, path, (value) => {
      switch (rng.below(5)) {
        case 0:
          return path.length > 0 ? DELETE : value;
        case 1:
          return Array.isArray(value) ? [...value, ...value] : value;
        case 2:
          if (value && typeof value === 'object' && !Array.isArray(value)) return { ...value, [rng.pick(['mediaType', 'digest', 'size', 'platform', 'annotations', 'manifests', 'layers', 'config', 'subject', 'urls', 'rootfs', 'history', 'os.features', 'Healthcheck', 'diff_ids'])]: structuredClone(rng.pick(JSON_VALUES)) };
          return structuredClone(rng.pick(JSON_VALUES));
        default:
          return structuredClone(rng.pick(JSON_VALUES));
      }
    });
    return Buffer.from(JSON.stringify(mutated) ?? 'null');
  },
};

/** Users as images write them, and as they should not: numbers out of range, empty parts, names that look like numbers. */
const USERS = ['0', '0:', ':0', '1000:4294967296', '4294967296', '2147483648', '2147483647:2147483647', '-1', '1e3', '0x10', ' 0', 'root', 'root:root', 'user:users', 'user:4294967296', '', ':', 'nobody', '1000:100:5'];

/** Sets `config.User` of an image config (or the top-level value) to one of USERS. */
export const jsonUser = {
  name: 'json-user',
  apply(rng, input) {
    let doc;
    try {
      doc = JSON.parse(input.toString('utf8'));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return input;
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return input;
    doc.config = { ...(doc.config && typeof doc.config === 'object' ? doc.config : {}), User: rng.pick(USERS) };
    return Buffer.from(JSON.stringify(doc));
  },
};

export const JSON_TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\u0000', '\\ud800', '1e400', '-0', '9007199254740993', 'null', '"size":-1,', '"__proto__":{},', '[[[[[[[[', ' '];
