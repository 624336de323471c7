import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerError } from './containerError.js';
import type { ContainerRecord } from './containerRecord.js';

const ADJECTIVES = ['brave', 'calm', 'eager', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'sharp', 'swift', 'vivid', 'witty'];
const NOUNS = ['badger', 'crane', 'dolphin', 'falcon', 'gecko', 'heron', 'ibis', 'jaguar', 'koala', 'lynx', 'marmot', 'otter', 'panda', 'quokka', 'raven', 'tapir'];

/** docker-style adjective_noun, from the ID's bytes; then, where that is taken, with a suffix of the ID. */
function generatedNames(id: string): [string, string, string] {
  const base = `${ADJECTIVES[Number.parseInt(id.slice(0, 2), 16) % ADJECTIVES.length]}_${NOUNS[Number.parseInt(id.slice(2, 4), 16) % NOUNS.length]}`;
  return [base, `${base}_${id.slice(0, 6)}`, `${base}_${id}`];
}

/**
 * The names containers hold, one file per name (`<containers>/.names/NAME`, the holder's ID in
 * it): taking a name is one exclusive create, where `run` used to read every container's record
 * to find a free one, which grew with the store (#13). Every change is made under the containers'
 * lock. A container's record goes before its name file, so a crash between the two leaves a
 * name whose holder has no record: such a name is free. A store from before these files gets them
 * from its records the first time a name is taken.
 */
export class ContainerNames {
  readonly dir: string;

  /** `recordOf`: a container's record, undefined once it is gone; `records`: every record, for a store without name files. */
  constructor(containersDir: string, private readonly recordOf: (id: string) => Promise<ContainerRecord | undefined>, private readonly records: () => Promise<ContainerRecord[]>) {
    this.dir = join(containersDir, '.names');
  }

  /** The ID of the container that holds `name`, if one does. */
  async holder(name: string): Promise<string | undefined> {
    let id: string;
    try {
      id = await readFile(join(this.dir, name), 'utf8');
    } catch (e) {
      // No such name, or one no name file can have.
      if (['ENOENT', 'ENAMETOOLONG'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw e;
    }
    // An empty or torn file (a crash while it was written) holds nothing.
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    return (await this.recordOf(id))?.name === name ? id : undefined;
  }

  /** Takes `name` for `id`; returns the ID that holds it instead, if one does. Under the containers' lock. */
  private async take(name: string, id: string): Promise<string | undefined> {
    const file = join(this.dir, name);
    try {
      await writeFile(file, id, { flag: 'wx' });
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await this.index();
        return this.take(name, id);
      }
      if (code === 'ENAMETOOLONG') throw new ContainerError('invalid-option', `invalid container name "${name}": longer than a file name may be`);
      if (code !== 'EEXIST') throw e;
    }
    const holder = await this.holder(name);
    if (holder !== undefined && holder !== id) return holder;
    await writeFile(file, id);
    return undefined;
  }

  /** Takes the name asked for, else the first free generated one; `heldBy` names the container that has the one asked for. */
  async takeFor(id: string, requested: string | undefined): Promise<{ name: string; heldBy?: string }> {
    if (requested !== undefined) {
      const heldBy = await this.take(requested, id);
      return heldBy === undefined ? { name: requested } : { name: requested, heldBy };
    }
    const [base, suffixed, whole] = generatedNames(id);
    for (const name of [base, suffixed]) if ((await this.take(name, id)) === undefined) return { name };
    // It carries the whole ID, which no other container has.
    await this.take(whole, id);
    return { name: whole };
  }

  /** Lets go of `name` if `id` holds it. Under the containers' lock, once the container's record is gone. */
  async release(name: string, id: string): Promise<void> {
    const file = join(this.dir, name);
    try {
      if ((await readFile(file, 'utf8')) !== id) return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await rm(file, { force: true });
  }

  /** Writes the name files of a store that has none, from its records: built aside, then renamed into place. */
  private async index(): Promise<void> {
    const building = `${this.dir}.building`;
    await rm(building, { recursive: true, force: true });
    await mkdir(building, { recursive: true });
    for (const record of await this.records()) await writeFile(join(building, record.name), record.id);
    await rename(building, this.dir);
  }
}
