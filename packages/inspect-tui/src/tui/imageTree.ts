import type { LayerAnalysis } from '../analysis/analyzeImage.js';
import { ChildIndex, column, grown, nextCapacity, type NameTable } from '../analysis/columns.js';
import type { FileColumns } from '../analysis/fileColumns.js';
import { IMPLIED_DIRECTORY, type ChangeMark, type FileInfo } from '../analysis/fileInfo.js';
import { CHANGE_MARKS, MARK_CODE, ROOT } from '../analysis/layerTree.js';

/** dive's two ways to look at a layer: what it changed, or the image up to it. */
export type TreeMode = 'layer' | 'aggregated';

/** What a tree shows for one path. */
export interface PathVersion {
  change: ChangeMark;
  info: FileInfo;
  /** The layer whose version of the path this is (where its content can be read). */
  layerIndex: number;
}

const REMOVED = MARK_CODE.removed;
/** In the image up to a layer: the path is not there (added above the first layer, then removed). */
const GONE = 4;

const NO_CHILDREN: readonly number[] = [];

/** Versions.info of the implied directory. */
const IMPLIED = -1;

/** How many records a layer adds between two pauses (a few milliseconds' work). */
const PAUSE_EVERY = 4096;

/**
 * A growable column of 32-bit integers. Typed, so that the garbage
 * collector neither scans nor copies it: the tree grows while keys are
 * handled, and collections that copy what survives would stall them.
 */
class IntColumn {
  private data = new Int32Array(1024);
  length = 0;

  push(value: number): number {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length] = value;
    return this.length++;
  }

  at(index: number): number {
    return this.data[index]!;
  }

  set(index: number, value: number): void {
    this.data[index] = value;
  }
}

/**
 * Versions of paths kept in columns rather than an object each (a big image
 * has hundreds of thousands), each path's versions chained in layer order.
 * `layer` is the layer of the version ("this layer" view) or the first layer
 * from which it holds (the image up to a layer).
 */
class Versions {
  readonly layer = new IntColumn();
  readonly mark = new IntColumn();
  /**
   * Where the version's attributes are: >= 0, that node of layer `source`'s
   * tree (read when shown, never copied into an object per version); < 0,
   * the image tree's FileInfo objects at -1 - value (-1: an implied directory).
   */
  readonly info = new IntColumn();
  readonly source = new IntColumn();
  readonly next = new IntColumn();
  /** Per path, its first and its latest version, or -1. */
  readonly first = new IntColumn();
  readonly last = new IntColumn();

  addPath(): void {
    this.first.push(-1);
    this.last.push(-1);
  }

  /** Appends a version to the path's chain; returns where it is. */
  push(id: number, layer: number, mark: number, info: number, source: number): number {
    const at = this.layer.push(layer);
    this.mark.push(mark);
    this.info.push(info);
    this.source.push(source);
    this.next.push(-1);
    const last = this.last.at(id);
    if (last < 0) this.first.set(id, at);
    else this.next.set(last, at);
    this.last.set(id, at);
    return at;
  }

  set(at: number, mark: number, info: number, source: number): void {
    this.mark.set(at, mark);
    this.info.set(at, info);
    this.source.set(at, source);
  }
}

/**
 * Every path of the image once, whatever layer touches it, with its version
 * in each layer and in the image up to each layer, so that the tree of any
 * layer in either view is a pass over flat arrays: switching layers never
 * builds a tree. It grows a layer at a time (`addLayer`), and shows the
 * layers it has: the first screen needs only the first layer.
 *
 * Paths are numbered as they first appear, so a parent's id is below its
 * children's: going through ids downwards visits children before parents.
 */
export class ImageTree {
  readonly name: string[] = [''];
  readonly path: string[] = [''];
  /** Each path's parent and name (a number in the analysis's name table), by id: what `children` finds a path by. */
  private readonly keys = { parent: column(Int32Array, 1024), name: column(Int32Array, 1024) };
  private readonly children = new ChildIndex(this.keys);
  private names: NameTable | undefined;
  /** Each added layer's attributes, by layer index. */
  private readonly files: FileColumns[] = [];
  /** Attributes the layers hold as objects (what a layer removes), with the implied directory first. */
  private readonly objects: FileInfo[] = [IMPLIED_DIRECTORY];
  /** Children as linked lists: each path's first child and next sibling (-1: none). */
  private readonly firstChild = new IntColumn();
  private readonly nextSibling = new IntColumn();
  /** Children in name order, for the directories asked for them since their last new child. */
  private readonly sortedChildren = new Map<number, number[]>();
  private readonly own = new Versions();
  private readonly stacked = new Versions();
  /** Per path, `words` 32-bit words: bit N set when the path is in layer N's own tree (itself or below it). */
  private inLayer: Uint32Array;
  private readonly words: number;
  private layersAdded = 0;

  constructor(readonly layerCount: number) {
    this.words = Math.max(1, Math.ceil(layerCount / 32));
    this.inLayer = new Uint32Array(1024 * this.words);
    this.keys.parent[0] = -1;
    this.firstChild.push(-1);
    this.nextSibling.push(-1);
    this.own.addPath();
    this.stacked.addPath();
  }

  /** The id of a path's parent (-1 for the root). */
  parent(id: number): number {
    return this.keys.parent[id]!;
  }

  /** The number of paths, the root included. */
  get size(): number {
    return this.name.length;
  }

  /** How many layers, from the first, the tree holds. */
  get layers(): number {
    return this.layersAdded;
  }

  /** The tree of all the given layers at once. */
  static of(layers: readonly LayerAnalysis[]): ImageTree {
    const tree = new ImageTree(layers.length);
    for (const layer of layers) {
      const steps = tree.addLayer(layer);
      while (!steps.next().done);
    }
    return tree;
  }

  /**
   * Adds the next layer, yielding every few thousand records, so that it can be done in slices between keys.
   * Its nodes are found by their parent and name, never by path: a path is made once, for a path new to the tree.
   */
  *addLayer(layer: LayerAnalysis): Generator<void> {
    if (layer.index !== this.layersAdded) throw new Error(`layer ${layer.index} added after ${this.layersAdded} layers`);
    const { tree } = layer;
    this.names ??= tree.names;
    if (tree.names !== this.names) throw new Error(`layer ${layer.index} is not of the image of the layers before`);
    this.children.reserve(tree.count);
    this.files[layer.index] = tree.files;
    // The tree id of each of the layer's directories, once looked up (0: not yet, or the root).
    const directories = new Int32Array(tree.count);
    const directoryId = (node: number): number => {
      // A loop: a path may be thousands of levels deep.
      const chain: number[] = [];
      let at = node;
      for (; at !== ROOT && directories[at] === 0; at = tree.parent[at]!) chain.push(at);
      let id = directories[at]!;
      for (let i = chain.length - 1; i >= 0; i--) id = directories[chain[i]!] = this.childId(id, tree.name[chain[i]!]!);
      return id;
    };
    let count = 0;
    for (const node of tree.order) {
      const id = this.childId(directoryId(tree.parent[node]!), tree.targetName(node));
      const info = tree.isWhiteout(node) ? this.objectRef(tree.removed.get(node)) : tree.isEntry(node) ? node : IMPLIED;
      this.addOwn(id, CHANGE_MARKS[tree.change[node]!]!, info, layer.index);
      this.addStacked(id, CHANGE_MARKS[tree.change[node]!]!, info, tree.kind(node) === 'implicit', layer.index);
      if (++count % PAUSE_EVERY === 0) yield;
    }
    for (const removed of layer.removedBelow) {
      let id = 0;
      for (const name of removed.path.split('/')) id = this.childId(id, this.names.intern(name));
      const info = this.objectRef(removed.info);
      this.addOwn(id, 'removed', info, layer.index);
      this.addStacked(id, 'removed', info, false, layer.index);
      if (++count % PAUSE_EVERY === 0) yield;
    }
    this.layersAdded++;
    yield;
  }

  /** A path's children in name order. */
  childrenOf(id: number): readonly number[] {
    if (this.firstChild.at(id) < 0) return NO_CHILDREN;
    let children = this.sortedChildren.get(id);
    if (!children) {
      children = [];
      for (let child = this.firstChild.at(id); child >= 0; child = this.nextSibling.at(child)) children.push(child);
      const { name } = this;
      children.sort((a, b) => (name[a]! < name[b]! ? -1 : name[a]! > name[b]! ? 1 : 0));
      this.sortedChildren.set(id, children);
    }
    return children;
  }

  /** Whether the path is in layer's own tree (as itself, or as a parent of what is). */
  inLayerTree(id: number, layer: number): boolean {
    return (this.inLayer[id * this.words + (layer >>> 5)]! & (1 << (layer & 31))) !== 0;
  }

  /** Where the path's own version in that tree is, or -1 (a parent the tree only implies). */
  private slot(id: number, layer: number, mode: TreeMode): number {
    if (mode === 'layer') {
      const { layer: layers, next } = this.own;
      for (let v = this.own.first.at(id); v >= 0 && layers.at(v) <= layer; v = next.at(v)) if (layers.at(v) === layer) return v;
      return -1;
    }
    const { layer: from, next, mark } = this.stacked;
    let found = -1;
    for (let v = this.stacked.first.at(id); v >= 0 && from.at(v) <= layer; v = next.at(v)) found = v;
    return found >= 0 && mark.at(found) !== GONE ? found : -1;
  }

  /** The path's own mark in that tree; undefined for a parent the tree only implies. */
  ownChange(id: number, layer: number, mode: TreeMode): ChangeMark | undefined {
    const v = this.slot(id, layer, mode);
    return v < 0 ? undefined : CHANGE_MARKS[(mode === 'layer' ? this.own : this.stacked).mark.at(v)];
  }

  /**
   * The bytes of the path's own version in that tree if a regular file (0
   * for anything else); undefined when the path itself is not in the tree.
   */
  ownBytes(id: number, layer: number, mode: TreeMode): number | undefined {
    const v = this.slot(id, layer, mode);
    if (v < 0) return undefined;
    const table = mode === 'layer' ? this.own : this.stacked;
    const info = table.info.at(v);
    if (info >= 0) return this.files[table.source.at(v)]!.fileBytes(info);
    const object = this.objects[-1 - info]!;
    return object.type === 'file' ? object.size : 0;
  }

  private infoOf(table: Versions, v: number): FileInfo {
    const info = table.info.at(v);
    return info >= 0 ? this.files[table.source.at(v)]!.info(info) : this.objects[-1 - info]!;
  }

  /** A reference (see Versions.info) to a FileInfo object, or to the implied directory. */
  private objectRef(info: FileInfo | undefined): number {
    if (!info) return IMPLIED;
    this.objects.push(info);
    return -this.objects.length;
  }

  /**
   * What the tree shows for a path: its own version, or for a parent the
   * tree only implies an unmodified directory (removed under a removed one).
   */
  version(id: number, layer: number, mode: TreeMode, parentVersion: () => PathVersion | undefined): PathVersion {
    const v = this.slot(id, layer, mode);
    if (v >= 0) {
      const table = mode === 'layer' ? this.own : this.stacked;
      return { change: CHANGE_MARKS[table.mark.at(v)]!, info: this.infoOf(table, v), layerIndex: table.source.at(v) };
    }
    const up = parentVersion();
    return { change: up?.change === 'removed' ? 'removed' : 'unmodified', info: IMPLIED_DIRECTORY, layerIndex: mode === 'layer' ? layer : (up?.layerIndex ?? 0) };
  }

  /** The id of the path named `name` (a name number) below `parent`, made if new. */
  private childId(parent: number, name: number): number {
    const known = this.children.find(parent, name);
    if (known >= 0) return known;
    const id = this.name.length;
    const nameText = this.names!.name(name);
    this.name.push(nameText);
    this.path.push(parent === 0 ? nameText : `${this.path[parent]}/${nameText}`);
    if (id >= this.keys.parent.length) {
      const capacity = nextCapacity(this.keys.parent.length, id + 1);
      this.keys.parent = grown(this.keys.parent, capacity);
      this.keys.name = grown(this.keys.name, capacity);
    }
    this.keys.parent[id] = parent;
    this.keys.name[id] = name;
    this.children.add(id);
    this.firstChild.push(-1);
    this.nextSibling.push(this.firstChild.at(parent));
    this.firstChild.set(parent, id);
    this.sortedChildren.delete(parent);
    this.own.addPath();
    this.stacked.addPath();
    if ((id + 1) * this.words > this.inLayer.length) {
      const grownBits = new Uint32Array(this.inLayer.length * 2);
      grownBits.set(this.inLayer);
      this.inLayer = grownBits;
    }
    return id;
  }

  /**
   * A layer may both write a path and remove it (a whiteout next to a new
   * version, or a removal below a directory it rewrites): what it writes is
   * what shows. The path and its parents are in the layer's tree.
   */
  private addOwn(id: number, change: ChangeMark, info: number, layer: number): void {
    const { own } = this;
    const mark = MARK_CODE[change];
    const last = own.last.at(id);
    if (last < 0 || own.layer.at(last) !== layer) own.push(id, layer, mark, info, layer);
    else if (mark !== REMOVED || own.mark.at(last) === REMOVED) own.set(last, mark, info, layer);
    const word = layer >>> 5;
    const bit = 1 << (layer & 31);
    for (let up = id; up > 0 && !(this.inLayer[up * this.words + word]! & bit); up = this.keys.parent[up]!) this.inLayer[up * this.words + word]! |= bit;
  }

  /**
   * Folds a layer's record into the image's version of the path, marked
   * against the first layer as dive's "compare all" does: a path added above
   * the first layer stays added however often it changes; one of the first
   * layer changed since is modified; one added and removed again is gone.
   */
  private addStacked(id: number, change: ChangeMark, recordInfo: number, implicit: boolean, layer: number): void {
    const { stacked } = this;
    const last = stacked.last.at(id);
    const before = last < 0 || stacked.mark.at(last) === GONE ? undefined : CHANGE_MARKS[stacked.mark.at(last)]!;
    let mark: number;
    let info = recordInfo;
    let source = layer;
    if (change === 'removed') {
      if (!before || before === 'removed') return;
      mark = before === 'added' ? GONE : REMOVED;
      info = stacked.info.at(last);
      source = stacked.source.at(last);
    } else {
      if (implicit && before && before !== 'removed') return;
      let stackedChange: ChangeMark;
      if (layer === 0) stackedChange = 'unmodified';
      else if (!before) stackedChange = 'added';
      else if (before === 'added') stackedChange = 'added';
      else if (before === 'removed' || before === 'modified') stackedChange = 'modified';
      else stackedChange = change === 'unmodified' ? 'unmodified' : 'modified';
      mark = MARK_CODE[stackedChange];
    }
    if (last >= 0 && stacked.layer.at(last) === layer) stacked.set(last, mark, info, source);
    else stacked.push(id, layer, mark, info, source);
  }
}
