export { buildImage } from './executor/buildImage.js';
export type { BuildRequest, BuildResult } from './executor/buildRequest.js';
export { importRootfs } from './executor/importRootfs.js';
export { parseDockerfile } from './dockerfile/parseDockerfile.js';
export { DockerfileError } from './dockerfile/instructions.js';
export type {
  SourceLocation, Dockerfile, Stage, Instruction, Heredoc, CommandLine,
} from './dockerfile/instructions.js';
export { heredocBody, parseOnbuildTriggers } from './dockerfile/parseDockerfile.js';
export { expandWord, expandWords, ExpansionError, type VariableLookup } from './dockerfile/shellWords.js';
export { planBuild, type BuildPlan, type PlannedStage, type StageBase, type PlanOptions } from './dockerfile/buildPlan.js';
export { StageState, type Step, type CopyOp, type RunOp, type StageStateOptions } from './dockerfile/stageState.js';
export { type RunMount } from './dockerfile/runMount.js';
export { toLinuxSeccomp, loadSeccompProfile, DEFAULT_SECCOMP_PROFILE, type LinuxSeccomp } from './runtime/seccompProfile.js';
export { buildContainerSpec, effectiveImageConfig, type ContainerSpec, type ContainerSpecInput } from './runtime/containerSpec.js';
export { resolveCapabilities, ALL_CAPABILITIES } from './runtime/capabilitySet.js';
export {
  parseMemorySize, parseTmpfs, parseEnv, readEnvFile, mergeEnv, parseSecurityOpts, normalizeCapability,
  parseRestartPolicy, parseSignal, parseNetwork, parseUlimit, type RunProfile,
} from './runtime/runOptions.js';
export { parseVolume, parseMount, type MountFlag } from './runtime/volumeMounts.js';
export { ContainerError, type ContainerErrorKind } from './runtime/containerError.js';
export { checkOverlayDepth, mountOverlay, mountReadOnlyOverlay, OverlayMountError, unmount, type OverlayMount } from './runtime/overlayMount.js';
export { parseLogRecord, LogTail } from './runtime/k8sFileLog.js';
export { ListingPrefetch } from './context/listingPrefetch.js';
export { parseLogTimeBound, parseTimestamp, type EpochNanos } from './runtime/logTime.js';
export { parseDockerignore, createIgnoreMatcher, readIgnorePatterns, chooseIgnoreFile, IgnorePatternError, type IgnoreMatcher } from './dockerfile/dockerignore.js';
export { setupNetwork, teardownNetwork, type NetworkRequest } from './runtime/network/containerNetwork.js';
export { readContainerNetwork, type ContainerNetwork } from './runtime/network/recordedNetwork.js';
export { type NetworkMode } from './runtime/network/networkState.js';
export { parsePublish, describeHostPort, type PortMapping, type PortProtocol } from './runtime/network/portMapping.js';
export { toNetworkSettings, type NetworkSettings, type PortBinding } from './runtime/network/networkSettings.js';
export { defaultBridgeNetwork, IPAM_LEASES_DIR, type BridgeNetwork } from './runtime/network/bridgeNetwork.js';
export { NetworkError, type NetworkErrorKind } from './runtime/network/networkError.js';
export { parseCacheExport, parseCacheImport, CacheSpecError, type CacheExportSpec, type CacheImportSpec, type CacheMode } from './cache/cacheSpec.js';
export { cacheArtifact, parseCacheConfig, CacheFormatError, CACHE_CONFIG_MEDIA_TYPE, INLINE_CACHE_FIELD, type CacheRecord } from './cache/cacheManifest.js';
