export { buildImage, type BuildRequest, type BuildResult } from './executor/buildImage.js';
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
export { parseDockerignore, createIgnoreMatcher, readIgnorePatterns, chooseIgnoreFile, IgnorePatternError, type IgnoreMatcher } from './dockerfile/dockerignore.js';
