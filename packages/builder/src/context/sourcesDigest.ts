import { createHash } from 'node:crypto';
import { encodeName, hasEscapedBytes } from '@tsbuild/oci-layout';
import type { SourceVisitor } from './buildContext.js';

/** Characters of a sources hash's lines gathered before they are hashed. */
const HASHED_TEXT_CHUNK = 64 * 1024;

/**
 * The sources hash of a COPY/ADD's context sources (BuildContext.hashSources):
 * SHA-256 of a line per selected path, `rel NUL mode NUL content NUL`, in
 * walk order. `content` is a file's content hash, a link's target, or "" for
 * a directory.
 */
export class SourcesDigest {
  private readonly digest = createHash('sha256');
  // Lines are hashed a chunk at a time: a call per path costs more than its bytes.
  private text = '';

  add(rel: string, mode: number, content: string): void {
    this.text += `${rel}\0${mode}\0${content}\0`;
    if (this.text.length >= HASHED_TEXT_CHUNK) this.hashText();
  }

  hex(): string {
    this.hashText();
    return this.digest.digest('hex');
  }

  private hashText(): void {
    // A name's bytes, not its UTF-8 with replacement characters: two names must never hash alike.
    this.digest.update(hasEscapedBytes(this.text) ? encodeName(this.text) : this.text);
    this.text = '';
  }
}

/**
 * The walk's order of two context-relative paths (BuildContext.visitSources):
 * component by component in name order, a parent before its children, which
 * is string order with `/` below every other character.
 */
export function compareWalkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 47) return -1;
    if (cb === 47) return 1;
    return ca - cb;
  }
  return a.length - b.length;
}

interface WrittenLine {
  rel: string;
  mode: number;
  content: string | undefined;
}

/**
 * The sources hash of one context directory as a COPY's layer writes it,
 * worked out from the very entries and bytes the layer holds, so a layer
 * written before its cache key needs no second walk of the context for the
 * key, and the key cannot describe other contents than the layer's.
 * Entries come in layer order, a file's content hash once its bytes are
 * read; the hash is the walk's only if both orders agree on every pair of
 * paths (they differ only where a name continues another with a character
 * below `/`, such as `a` and `a-b`), and only if every file's bytes were
 * seen (not a streamed large file, nor a hard link's second name).
 * Otherwise `hex` gives undefined and the caller walks the context.
 */
export class WrittenSources {
  private readonly digest = new SourcesDigest();
  /** Lines whose file content is not read yet, and the ones after them. */
  private readonly waiting: WrittenLine[] = [];
  private last: string | undefined;
  private agrees = true;

  constructor(private readonly also?: SourceVisitor) {}

  /** A path of the layer in layer order; a file's returns what takes its content hash once it is read. */
  add(rel: string, mode: number, content: string | undefined): (hash: string) => void {
    if (this.last !== undefined && compareWalkOrder(this.last, rel) >= 0) this.agrees = false;
    this.last = rel;
    const line: WrittenLine = { rel, mode, content };
    this.waiting.push(line);
    this.flush();
    return (hash) => {
      line.content = hash;
      this.flush();
    };
  }

  /** A path whose content the layer holds otherwise than as read bytes: the hash cannot be worked out here. */
  unknown(): void {
    this.agrees = false;
  }

  /** The sources hash, once the layer is written; undefined where the walk must work it out. */
  hex(): string | undefined {
    if (!this.agrees || this.waiting.length > 0) return undefined;
    return this.digest.hex();
  }

  private flush(): void {
    while (this.agrees && this.waiting.length > 0 && this.waiting[0]!.content !== undefined) {
      const { rel, mode, content } = this.waiting.shift()!;
      this.digest.add(rel, mode, content!);
      this.also?.(0, rel, mode, content!);
    }
  }
}
