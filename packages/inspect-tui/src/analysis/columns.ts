/**
 * Building blocks of the analysis's trees, which keep a node as a slot in
 * typed arrays rather than an object (an image has millions of paths; an
 * object, a Map entry and a path string each cost hundreds of bytes, and
 * the collector scans them all).
 */

export type TypedColumn = Int32Array | Uint32Array | Float64Array | Uint8Array;

type ColumnType<T extends TypedColumn> = { new (buffer: ArrayBuffer): T; readonly BYTES_PER_ELEMENT: number };

/** ES2024's resizable ArrayBuffer, which Node 20 has and the project's ES2022 lib does not declare. */
interface ResizableBuffer extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;

/**
 * Up to this many elements a column is a plain typed array, copied when it
 * grows: a resizable buffer's elements are several times slower to reach
 * until V8 has optimised the code that reads them, which the first screen
 * of a small image would pay for.
 */
const PLAIN_UP_TO = 1 << 16;
/** How much more a column reserves when it outgrows its reservation: rarely, since each copy is garbage for a while. */
const RESERVATION_GROWTH = 8;

/** A column of `length` zeros. */
export function column<T extends TypedColumn>(type: ColumnType<T>, length = 0): T {
  return length <= PLAIN_UP_TO ? new type(new ArrayBuffer(length * type.BYTES_PER_ELEMENT)) : reserved(type, length, length);
}

function reserved<T extends TypedColumn>(type: ColumnType<T>, length: number, reservation: number): T {
  const bytes = type.BYTES_PER_ELEMENT;
  return new type(new ResizableArrayBuffer(length * bytes, { maxByteLength: reservation * bytes }));
}

/**
 * `old` grown to `length` elements (the new ones zero). A big column sits on
 * a resizable buffer that reserves address space and grows in place:
 * copies of big doubling arrays were garbage until the next collection, and
 * the allocator kept the memory they had used (issue 14: a third of the
 * peak RSS of a million-file image). Untouched pages cost no memory.
 */
export function grown<T extends TypedColumn>(old: T, length: number): T {
  const type = old.constructor as ColumnType<T>;
  const buffer = old.buffer as ResizableBuffer;
  const bytes = length * old.BYTES_PER_ELEMENT;
  if (buffer.resizable && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes);
    return old;
  }
  const reservation = buffer.resizable ? (buffer.maxByteLength / old.BYTES_PER_ELEMENT) * RESERVATION_GROWTH : length * RESERVATION_GROWTH;
  const next = length <= PLAIN_UP_TO ? column(type, length) : reserved(type, length, Math.max(length, reservation));
  next.set(old);
  return next;
}

/** The capacity after `capacity` to hold `needed` slots: doubled, so growing costs amortised constant time. */
export const nextCapacity = (capacity: number, needed: number) => Math.max(needed, 1024, capacity * 2);

/**
 * Every name of the image's paths once: nodes keep a name's number. Paths of
 * an image repeat their components (`f0.js` in thousands of directories),
 * and a number is 4 bytes where a string is 20 and more.
 */
export class NameTable {
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }

  name(id: number): string {
    return this.names[id]!;
  }
}

/** What a ChildIndex reads: each node's parent and name, by node id. */
export interface NamedNodes {
  parent: Int32Array;
  name: Int32Array;
}

/**
 * Finds a node by parent and name: one open-addressing hash table of node
 * ids over the whole tree instead of a Map per directory. The keys are read
 * from the tree's own columns, so a slot costs 4 bytes. Nodes are never
 * taken out (the trees keep removed nodes, flagged).
 */
export class ChildIndex {
  private slots = column(Int32Array, 2048);
  private count = 0;

  constructor(private readonly nodes: NamedNodes) {}

  /** The child of `parent` named `name`, or -1. */
  find(parent: number, name: number): number {
    const { slots } = this;
    const mask = slots.length - 1;
    const { parent: parents, name: names } = this.nodes;
    for (let at = slotOf(parent, name) & mask; ; at = (at + 1) & mask) {
      const id = slots[at]! - 1;
      if (id < 0) return -1;
      if (parents[id] === parent && names[id] === name) return id;
    }
  }

  /** Adds a node whose parent and name are set and which no other node has. */
  add(id: number): void {
    this.reserve(1);
    this.place(this.slots, id);
    this.count++;
  }

  /** Makes room for `more` nodes at once: one rehash instead of one per doubling, when the caller knows how many may come. */
  reserve(more: number): void {
    let size = this.slots.length;
    // Up to three quarters full: linear probing still finds a node in a few slots, and a slot is 4 bytes.
    while ((this.count + more) * 4 > size * 3) size *= 2;
    if (size !== this.slots.length) this.rehash(size);
  }

  private place(slots: Int32Array, id: number): void {
    const mask = slots.length - 1;
    let at = slotOf(this.nodes.parent[id]!, this.nodes.name[id]!) & mask;
    while (slots[at] !== 0) at = (at + 1) & mask;
    slots[at] = id + 1;
  }

  private rehash(size: number): void {
    const old = this.slots;
    const slots = column(Int32Array, size);
    for (let at = 0; at < old.length; at++) if (old[at] !== 0) this.place(slots, old[at]! - 1);
    this.slots = slots;
  }
}

function slotOf(parent: number, name: number): number {
  let h = Math.imul(parent ^ Math.imul(name, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca77) ^ (h >>> 13);
}
