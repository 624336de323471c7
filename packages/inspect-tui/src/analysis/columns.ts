/**
 * Building blocks of the analysis's trees, which keep a node as a slot in
 * typed arrays rather than an object (an image has millions of paths; an
 * object, a Map entry and a path string each cost hundreds of bytes, and
 * the collector scans them all).
 */

export type TypedColumn = Int32Array | Uint32Array | Float64Array | Uint8Array;

/** `old` copied into a new array of `length` elements (the rest zero). */
export function grown<T extends TypedColumn>(old: T, length: number): T {
  const next = new (old.constructor as new (n: number) => T)(length);
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
  private slots = new Int32Array(2048);
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
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.place(this.slots, id);
    this.count++;
  }

  private place(slots: Int32Array, id: number): void {
    const mask = slots.length - 1;
    let at = slotOf(this.nodes.parent[id]!, this.nodes.name[id]!) & mask;
    while (slots[at] !== 0) at = (at + 1) & mask;
    slots[at] = id + 1;
  }

  private rehash(size: number): void {
    const old = this.slots;
    const slots = new Int32Array(size);
    for (const entry of old) if (entry !== 0) this.place(slots, entry - 1);
    this.slots = slots;
  }
}

function slotOf(parent: number, name: number): number {
  let h = Math.imul(parent ^ Math.imul(name, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca77) ^ (h >>> 13);
}
