export { buildImage, type BuildRequest, type BuildResult } from './executor/buildImage.js';
export { importRootfs } from './executor/importRootfs.js';
export { parseDockerfile } from './dockerfile/parseDockerfile.js';
export { DockerfileError } from './dockerfile/instructions.js';
