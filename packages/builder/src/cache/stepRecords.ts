import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirIfExists, readTextIfExists, withNoSpacePath } from '@tsbuild/oci-layout';
import { sha256, type SourceGroup, type StepInputs } from './stepInputs.js';

/** What the cache remembers of a step it ran, to explain a later miss. */
export interface StepRecord {
  key: string;
  /** When the step ran (ISO 8601): the newest of equally near records wins. */
  made: string;
  /** A hash of the Dockerfile's path: a record of the same Dockerfile is nearer than one of another project. */
  dockerfile: string;
  inputs: StepInputs;
}

/** The base a stage started from at a Dockerfile position: the image's digest (or "scratch") and hashes of the layer settings. */
export interface StageBase {
  image: string;
  settings: Record<string, string>;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isString);

function parseInputs(v: unknown): StepInputs | undefined {
  const o = v as Partial<Record<keyof StepInputs, unknown>> | null;
  if (typeof o !== 'object' || o === null || !isString(o.instruction) || !isString(o.text) || !isStringRecord(o.values)) return undefined;
  if (!Array.isArray(o.remote) || !o.remote.every(isString) || !Array.isArray(o.sources)) return undefined;
  const sources: SourceGroup[] = [];
  for (const g of o.sources as unknown[]) {
    const group = g as Partial<SourceGroup> | null;
    if (!isString(group?.digest) || typeof group.listed !== 'boolean') return undefined;
    sources.push({ digest: group.digest, listed: group.listed });
  }
  return { instruction: o.instruction, text: o.text, values: o.values, sources, remote: o.remote };
}

/** JSON of another format (an older tsbuild's, a torn write) is no record. */
function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, join(dir, name));
  } catch (e) {
    throw withNoSpacePath(e, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The inputs of each step the cache holds, filed under the parent's key
 * (`<cache>/step-inputs/<parent>/<key>`), so the steps that followed one
 * parent are one listing; and the base each stage position last started from
 * (`<cache>/step-bases/<position>`). Only hashes and names, never a value.
 */
export class StepRecords {
  readonly dir: string;
  private readonly basesDir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'step-inputs');
    this.basesDir = join(cacheDir, 'step-bases');
  }

  async put(parent: string, record: StepRecord): Promise<void> {
    await writeAtomically(join(this.dir, parent), record.key, JSON.stringify({ made: record.made, dockerfile: record.dockerfile, inputs: record.inputs }));
  }

  async has(parent: string, key: string): Promise<boolean> {
    return (await this.read(parent, key)) !== undefined;
  }

  /** The records of the steps that followed `parent`. */
  async children(parent: string): Promise<StepRecord[]> {
    const out: StepRecord[] = [];
    for (const key of await readdirIfExists(join(this.dir, parent))) {
      if (key.startsWith('.')) continue;
      const record = await this.read(parent, key);
      if (record) out.push(record);
    }
    return out;
  }

  private async read(parent: string, key: string): Promise<StepRecord | undefined> {
    const value = parseJson(await readTextIfExists(join(this.dir, parent, key))) as { made?: unknown; dockerfile?: unknown; inputs?: unknown } | undefined;
    const inputs = parseInputs(value?.inputs);
    return inputs && isString(value?.made) && isString(value.dockerfile) ? { key, made: value.made, dockerfile: value.dockerfile, inputs } : undefined;
  }

  /** Every record's parent and key, and the source digests it lists, for prune. */
  async *list(): AsyncGenerator<{ parent: string; key: string; file: string; sources: string[] }> {
    for (const parent of await readdirIfExists(this.dir)) {
      for (const key of await readdirIfExists(join(this.dir, parent))) {
        const record = key.startsWith('.') ? undefined : await this.read(parent, key);
        const sources = record?.inputs.sources.filter((g) => g.listed).map((g) => g.digest) ?? [];
        yield { parent, key, file: join(this.dir, parent, key), sources };
      }
    }
  }

  /** Removes one record (and its parent's directory once empty). */
  async remove(parent: string, key: string): Promise<void> {
    await rm(join(this.dir, parent, key), { force: true });
    if ((await readdirIfExists(join(this.dir, parent))).length === 0) await rmdir(join(this.dir, parent)).catch(ignoreMissingDir);
  }

  private basePath(position: unknown): string {
    return join(this.basesDir, sha256(JSON.stringify(position)));
  }

  async base(position: unknown): Promise<StageBase | undefined> {
    const value = parseJson(await readTextIfExists(this.basePath(position))) as Partial<StageBase> | undefined;
    return isString(value?.image) && isStringRecord(value.settings) ? { image: value.image, settings: value.settings } : undefined;
  }

  async setBase(position: unknown, base: StageBase): Promise<void> {
    const path = this.basePath(position);
    await writeAtomically(this.basesDir, path.slice(this.basesDir.length + 1), JSON.stringify(base));
  }
}

/** ENOENT: removed meanwhile; ENOTEMPTY: a build filed a record meanwhile. Both leave it as it should be. */
function ignoreMissingDir(e: NodeJS.ErrnoException): void {
  if (e.code === 'ENOENT' || e.code === 'ENOTEMPTY') return;
  throw e;
}
