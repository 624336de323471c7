import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ToolError } from '@tsbuild/oci-layout';
import { USAGE_EXIT_CODE } from './exitStatus.js';

/**
 * Where `build --output` writes the result, as BuildKit's exporters name them:
 * the image as an OCI layout (a directory) or archive, a `docker load` archive,
 * or the final filesystem as a directory or a tar. An archive's `dest` may be
 * `-`: stdout.
 */
export type BuildOutput =
  | { type: 'oci'; dest: string; tar: boolean }
  | { type: 'docker'; dest: string }
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: string };

/** A `--output` (or `--push`) the command line cannot mean; refused before the build starts. */
export class BuildOutputError extends ToolError<'invalid-output'> {
  constructor(message: string) {
    super('invalid-output', message, USAGE_EXIT_CODE);
  }
}

const KEYS: Record<BuildOutput['type'], string[]> = { oci: ['type', 'dest', 'tar'], docker: ['type', 'dest'], local: ['type', 'dest'], tar: ['type', 'dest'] };

function isOutputType(type: string): type is BuildOutput['type'] {
  return Object.hasOwn(KEYS, type);
}

function parseBool(spec: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new BuildOutputError(`invalid --output "${spec}": tar must be true or false, not "${value}"`);
}

/**
 * A file the build will write (an archive, --iidfile, --metadata-file): its directory must
 * exist before the build starts, so a typo does not cost a whole build. `what` starts the error.
 */
export function checkFileDestination(what: string, file: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) throw new BuildOutputError(`${what}: ${file} is a directory, not a file`);
  const parent = dirname(file);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new BuildOutputError(`${what}: directory ${parent} does not exist`);
}

/**
 * One `--output` value, as buildx reads it: `type=T,dest=D[,tar=false]` (CSV
 * fields); a bare `DIR` means `type=local,dest=DIR`, and `-` means
 * `type=tar,dest=-`.
 */
export function parseBuildOutput(spec: string): BuildOutput {
  if (spec === '-') return { type: 'tar', dest: '-' };
  if (!spec.includes('=')) return { type: 'local', dest: resolve(spec) };
  const fields = new Map<string, string>();
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new BuildOutputError(`invalid --output "${spec}": "${field}" is not KEY=VALUE`);
    const key = field.slice(0, eq).trim().toLowerCase();
    if (fields.has(key)) throw new BuildOutputError(`invalid --output "${spec}": ${key} is given twice`);
    fields.set(key, field.slice(eq + 1));
  }
  const type = fields.get('type');
  if (type === undefined) throw new BuildOutputError(`invalid --output "${spec}": no type= (one of oci, docker, local, tar)`);
  if (!isOutputType(type)) {
    const hint = type === 'registry' || type === 'image' ? '; use --push to push the image to the registry its tag names' : '';
    throw new BuildOutputError(`invalid --output "${spec}": unknown type "${type}" (one of oci, docker, local, tar)${hint}`);
  }
  const unknown = [...fields.keys()].find((key) => !KEYS[type].includes(key));
  if (unknown) throw new BuildOutputError(`invalid --output "${spec}": type=${type} takes no "${unknown}" (it takes ${KEYS[type].join(', ')})`);
  const dest = fields.get('dest');
  if (!dest) throw new BuildOutputError(`invalid --output "${spec}": type=${type} needs dest=${type === 'local' ? 'DIR' : 'FILE'}`);
  const tarOption = fields.get('tar');
  if (dest === '-') {
    if (type === 'local') throw new BuildOutputError(`invalid --output "${spec}": type=local writes a directory, not stdout (dest=-); use type=tar`);
    if (type !== 'oci') return { type, dest };
    if (tarOption !== undefined && !parseBool(spec, tarOption)) throw new BuildOutputError(`invalid --output "${spec}": an OCI layout directory (tar=false) cannot go to stdout`);
    return { type, dest, tar: true };
  }
  const path = resolve(dest);
  switch (type) {
    case 'oci': {
      // As BuildKit: a directory (tar=false, or one that is there already) gets an OCI layout, anything else an archive.
      const tar = tarOption !== undefined ? parseBool(spec, tarOption) : !(existsSync(path) && statSync(path).isDirectory());
      if (tar) checkFileDestination(`invalid --output "${spec}"`, path);
      return { type, dest: path, tar };
    }
    case 'docker':
    case 'tar':
      checkFileDestination(`invalid --output "${spec}"`, path);
      return { type, dest: path };
    case 'local':
      if (existsSync(path) && !statSync(path).isDirectory()) throw new BuildOutputError(`invalid --output "${spec}": ${path} is a file, not a directory`);
      return { type, dest: path };
  }
}

/** Every `--output`; several are allowed (as buildx with BuildKit 0.13 and buildah take them), one of them on stdout at most. */
export function parseBuildOutputs(specs: string[]): BuildOutput[] {
  const outputs = specs.map(parseBuildOutput);
  if (outputs.filter((o) => o.dest === '-').length > 1) throw new BuildOutputError('only one --output can write to stdout (dest=-)');
  return outputs;
}
