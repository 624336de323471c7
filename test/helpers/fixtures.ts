import { join } from 'node:path';
import { REPO_ROOT } from './tsbuildCli.js';

/** dive's own test image, from shared/ beside the repository (as CI lays it out too). */
export const DIVE_IMAGE = join(REPO_ROOT, '..', 'shared', 'fixtures', 'dive', 'test-docker-image.tar');

/** Go's archive/tar test archives with Go's expectations as data (expect.json; see the README there). */
export const GO_ARCHIVE_TAR = join(REPO_ROOT, '..', 'shared', 'fixtures', 'go-archive-tar');

/** BuildKit's Dockerfile parser and shell-lexer test data and moby/patternmatcher's tables (see its README.md). */
export const BUILDKIT_DOCKERFILE_FIXTURES = join(REPO_ROOT, '..', 'shared', 'fixtures', 'buildkit-dockerfile');
