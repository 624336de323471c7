import { lstat, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Image, LocalStore, StoredImage } from '@tsbuild/oci-layout';
import { allDone } from './allDone.js';
import { ContainerError } from './containerError.js';
import type { ContainerRecord } from './containerRecord.js';
import { buildContainerSpec, effectiveImageConfig } from './containerSpec.js';
import { mountNewRootfs, unmountContainerRootfs } from './containerRootfs.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { ContainerConnection, networkNamespacePath } from './containerNetwork.js';
import { writeEtcFiles } from './etcFiles.js';
import type { RestartPolicy, RunProfile, VolumeMount } from './runOptions.js';
import { copyUpIntoVolume, provideVolumes } from './volumeMounts.js';
import { VolumeStore } from './volumeStore.js';

export interface CreateRequest {
  image: StoredImage;
  /** The name or ID the user gave. */
  imageRef: string;
  command: string[];
  profile: RunProfile;
  name?: string;
  runtime: string;
  autoRemove: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  restart: RestartPolicy;
  stopSignal?: string;
  stopTimeout: number;
  labels: Record<string, string>;
  /** Bytes at which conmon rotates the log. */
  logSizeMax?: number;
}

async function checkVolumeSources(profile: RunProfile): Promise<void> {
  for (const v of profile.volumes) {
    try {
      await lstat(v.source);
    } catch (e) {
      throw new ContainerError('invalid-option', `bad volume ${v.source}:${v.destination}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the host path does not exist' : (e as Error).message}`);
    }
  }
}

/** An anonymous volume for each of the image's VOLUME paths that no -v, --mount or --tmpfs covers, as docker makes them. */
function imageVolumes(declared: Record<string, object> | undefined, profile: RunProfile): VolumeMount[] {
  const taken = new Set([...profile.volumes, ...profile.tmpfs].map((m) => m.destination));
  return Object.keys(declared ?? {})
    .map((path) => posix.normalize(posix.join('/', path)))
    .filter((path) => !taken.has(path))
    .map((destination) => ({ source: '', destination, readOnly: false, volume: {} }));
}

export interface CreateOptions {
  /**
   * Connect the network as soon as the record exists, while the rootfs is mounted and the spec
   * written: for `run`, which starts the container at once. Otherwise its start connects it.
   */
  connect?: boolean;
}

export interface CreatedContainer extends StoredContainer {
  /** The connection under way when `connect` asked for one: startContainer takes it over. */
  network?: ContainerConnection;
}

/**
 * Creates a container: its record under a unique name, its rootfs mounted,
 * its runtime spec written. Nothing runs yet. On failure nothing is left.
 */
export async function createContainer(store: LocalStore, containers: ContainerStore, request: CreateRequest, opts: CreateOptions = {}): Promise<CreatedContainer> {
  const volumes = new VolumeStore(store);
  const image = await store.layout.readImage(request.image.descriptor);
  const provided = await provideVolumes(volumes, [...request.profile.volumes, ...imageVolumes(image.config.config?.Volumes, request.profile)]);
  const req = { ...request, profile: { ...request.profile, volumes: provided.mounts } };
  try {
    return await createWithVolumes(store, containers, req, image, opts);
  } catch (e) {
    // Volumes made for this container alone go with it; nothing else uses them yet.
    for (const name of provided.created) await volumes.remove(containers, name);
    throw e;
  }
}

async function createWithVolumes(store: LocalStore, containers: ContainerStore, req: CreateRequest, image: Image, opts: CreateOptions): Promise<CreatedContainer> {
  await checkVolumeSources(req.profile);
  const effective = effectiveImageConfig(image.config, req.command, req.profile).config ?? {};
  const stopSignal = req.stopSignal ?? image.config.config?.StopSignal ?? 'SIGTERM';
  const c = await containers.create(req.name, (id, name): ContainerRecord => ({
    id,
    name,
    created: new Date().toISOString(),
    image: { ref: req.imageRef, name: req.image.name, descriptor: req.image.descriptor, diffIds: image.config.rootfs.diff_ids },
    runtime: req.runtime,
    autoRemove: req.autoRemove,
    openStdin: req.openStdin,
    tty: req.profile.tty,
    ...(req.logSizeMax !== undefined ? { logSizeMax: req.logSizeMax } : {}),
    stdinOnce: req.stdinOnce,
    restart: req.restart,
    stopSignal,
    stopTimeout: req.stopTimeout,
    network: req.profile.network,
    ports: req.profile.publish,
    config: {
      Hostname: req.profile.hostname ?? id.slice(0, 12),
      User: effective.User ?? '',
      Env: effective.Env ?? [],
      Cmd: effective.Cmd ?? null,
      Entrypoint: effective.Entrypoint ?? null,
      Image: req.imageRef,
      WorkingDir: effective.WorkingDir ?? '',
      Labels: { ...(effective.Labels ?? {}), ...req.labels },
      StopSignal: stopSignal,
    },
    mounts: [
      ...req.profile.volumes.map((v) =>
        v.volume?.name
          ? { Type: 'volume' as const, Name: v.volume.name, Source: v.source, Destination: v.destination, RW: !v.readOnly }
          : { Type: 'bind' as const, Source: v.source, Destination: v.destination, RW: !v.readOnly },
      ),
      ...req.profile.tmpfs.map((t) => ({ Type: 'tmpfs' as const, Source: '', Destination: t.destination, RW: !t.options.includes('ro') })),
    ],
  }));
  let network: ContainerConnection | undefined;
  try {
    // The etc files and the rootfs side by side; connecting begins once the etc files exist (it writes the address into the hosts file).
    const etcWritten = writeEtcFiles(c.paths.etcDir, c.record.config.Hostname, req.profile.network).then((files) => {
      if (opts.connect) network = new ContainerConnection(store.root, c.record, files.hosts, { fresh: true });
      return files;
    });
    const mounted = mountNewRootfs(store, image, c.record, c.paths);
    const [etcFiles, rootfs] = await allDone([etcWritten, mounted]);
    for (const v of req.profile.volumes) if (v.volume) await copyUpIntoVolume(rootfs, v.destination, v.source);
    const netnsPath = networkNamespacePath(store.root, c.record);
    const spec = await buildContainerSpec({
      id: c.record.id,
      image: image.config,
      rootfs,
      command: req.command,
      profile: req.profile,
      etcFiles,
      ...(netnsPath ? { netnsPath } : {}),
    });
    await writeFile(c.paths.spec, `${JSON.stringify(spec, null, 2)}\n`);
    return { ...c, ...(network ? { network } : {}) };
  } catch (e) {
    await discardContainer(containers, { ...c, ...(network ? { network } : {}) });
    throw e;
  }
}

/**
 * Undoes what createContainer made (the network it began, once that ended; the rootfs mount; the
 * record), also after a failed start: `run` leaves nothing of a container that never ran.
 */
export async function discardContainer(containers: ContainerStore, c: CreatedContainer): Promise<void> {
  await allDone([...(c.network ? [c.network.undo()] : []), unmountContainerRootfs(c.paths)]);
  await containers.remove(c);
}
