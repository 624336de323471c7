import { appendLayer, assembleImage, type Compression, type ContainerConfig, type ImageConfig, type LocalStore } from '@tsbuild/oci-layout';
import { DockerfileError } from '../dockerfile/instructions.js';
import { parseSingleInstruction } from '../dockerfile/parseDockerfile.js';
import { StageState } from '../dockerfile/stageState.js';
import { storeChanges, storeImage } from '../layers/layerStore.js';
import { containerChanges } from './containerChanges.js';
import { ContainerError } from './containerError.js';
import type { StoredContainer } from './containerStore.js';

export interface CommitOptions {
  message?: string;
  author?: string;
  /** `--change` Dockerfile instructions, applied to the config in order. */
  changes: string[];
  compression: Compression;
}

/** The container's settings over the image's: what `run` made of command line and image (docker keeps the rest, e.g. ExposedPorts). */
function containerConfig(image: ContainerConfig | undefined, c: StoredContainer): ContainerConfig {
  const cfg = c.record.config;
  const out: ContainerConfig = { ...(image ?? {}), Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User };
  if (cfg.Cmd) out.Cmd = cfg.Cmd;
  else delete out.Cmd;
  if (cfg.Entrypoint) out.Entrypoint = cfg.Entrypoint;
  else delete out.Entrypoint;
  if (Object.keys(cfg.Labels).length > 0) out.Labels = cfg.Labels;
  if (cfg.StopSignal && cfg.StopSignal !== 'SIGTERM') out.StopSignal = cfg.StopSignal;
  for (const key of ['WorkingDir', 'User'] as const) if (!out[key]) delete out[key];
  return out;
}

/** Applies `--change` instructions through the builder's own rules; only those that change the config alone are allowed, as docker. */
function applyChanges(config: ContainerConfig, changes: string[]): ContainerConfig {
  const state = new StageState({ base: config, globalArgs: {}, buildArgs: {}, escape: '\\' });
  for (const text of changes) {
    try {
      const instr = parseSingleInstruction(text, { file: '--change', line: 1, column: 1 }, 'a change');
      if (!['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'].includes(instr.keyword)) {
        throw new ContainerError('invalid-option', `--change ${JSON.stringify(text)}: ${instr.keyword} is not a valid change instruction`);
      }
      state.apply(instr);
    } catch (e) {
      if (e instanceof DockerfileError) throw new ContainerError('invalid-option', `--change ${JSON.stringify(text)}: ${e.reason}`);
      throw e;
    }
  }
  return state.config;
}

/**
 * `docker commit`: the container's upper directory becomes one layer on top
 * of its image, written as a RUN step's is (upperToChanges, storeChanges),
 * with a history entry and the container's config. Returns the manifest digest.
 */
export async function commitContainer(store: LocalStore, c: StoredContainer, names: string[], opts: CommitOptions) {
  const image = await store.layout.readImage(c.record.image.descriptor);
  const config = applyChanges(containerConfig(image.config.config, c), opts.changes);
  return store.lease(async () => {
    const layer = await storeChanges(store, await containerChanges(c), opts.compression);
    const created = new Date().toISOString();
    const cmd = [...(c.record.config.Entrypoint ?? []), ...(c.record.config.Cmd ?? [])].join(' ');
    const next: ImageConfig = { ...structuredClone(image.config), created, config, history: image.config.history ?? [] };
    if (opts.author) next.author = opts.author;
    else delete next.author;
    // Built afresh over the same layers: the base's manifest annotations are not the committed image's.
    const committed = appendLayer(assembleImage(next, image.layers), store.layout.storedLayer(layer.descriptor, layer.diffId), {
      created, created_by: cmd, ...(opts.author ? { author: opts.author } : {}), ...(opts.message ? { comment: opts.message } : {}),
    });
    const manifest = await storeImage(store, committed);
    const tagged = names.length > 0 ? await store.tag(manifest, names) : [];
    return { digest: manifest.digest, names: tagged };
  });
}
