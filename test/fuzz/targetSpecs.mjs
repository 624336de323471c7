/** What each target is fed: its mutations and the shared fixtures it takes seeds from (read at run time, not copied). */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BYTE_MUTATORS, flipBit, ESCAPE_CLASSES, escapeMutator, JSON_TOKENS, insertToken, jsonNode, jsonUser, KNOWN_ESCAPE_CLASSES, lineRepeat, TAR_MUTATORS, tarPaxNegativeSize, textMutators,
} from './mutators.mjs';
import { HTTP_MUTATORS } from './httpMutators.mjs';

/** Small Go archive/tar fixtures: big ones add time, not coverage. */
async function goTarFixtures(fixtures) {
  const dir = join(fixtures, 'go-archive-tar');
  const out = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    if (name.endsWith('.tar') && (await stat(path)).size <= 8192) out.push(path);
  }
  return out;
}

async function buildkitDockerfiles(fixtures) {
  const dir = join(fixtures, 'buildkit-dockerfile', 'parser');
  const out = [];
  for (const group of ['testfiles', 'testfiles-negative']) {
    for (const name of (await readdir(join(dir, group))).sort()) out.push(join(dir, group, name, 'Dockerfile'));
  }
  return out;
}

const none = async () => [];

/** Every escape class, less the known-failing ones when `known-escapes` is skipped. */
function escapeClasses(skip) {
  return Object.keys(ESCAPE_CLASSES).filter((name) => !(skip.has('known-escapes') && KNOWN_ESCAPE_CLASSES.has(name)));
}

const tarMutators = (skip) => [...BYTE_MUTATORS, ...TAR_MUTATORS, tarPaxNegativeSize, escapeMutator(escapeClasses(skip))];

const DOCKERFILE_TOKENS = [
  'FROM ', 'FROM scratch\n', 'RUN ', 'COPY ', 'ADD ', 'ARG ', 'ENV ', 'LABEL ', 'CMD ', 'ENTRYPOINT ', 'SHELL ', 'WORKDIR ', 'USER ', 'EXPOSE ', 'VOLUME ',
  'ONBUILD ', 'HEALTHCHECK ', 'HEALTHCHECK NONE\n', 'STOPSIGNAL ', 'MAINTAINER ', ' AS ', ' as b\n', '--from=', '--from=0 ', '--chmod=', '--chown=', '--link ',
  '--mount=type=cache,target=/c ', '--mount=type=bind,from=0,target=/x ', '--mount=type=secret,id=', '--network=none ', '--security=insecure ', '--platform=',
  '--interval=', '--timeout=-1s ', '--retries=99999999999999999999 ', '\\\n', '`\n', '<<EOF\n', '<<-"EOF"\n', '<<EOF cat\nx\nEOF\n', 'EOF\n', '${', '}', '$', '${A:-', '${A:+x}',
  '${A?err}', '${A#*}', '${A/x/y}', 'ENV A=$A$A\n', 'LABEL a=${A//?/$A$A}\n', '${A#*a*a*a*a*a*a*a*a*b}', '${A//*a*a*a*a*a*b/c}', '"', "'", '[', ']', '["a", ', '[]', '["a", 1]', '[["x"]]', '["a", null]', '{"a": 1}', '=', ' ', '\t', '\0', '\r\n', '\r', '\uFEFF', '\u2028', '# escape=`\n', '# escape=\\\n',
  '# syntax=docker/dockerfile:1\n', '# check=skip=all\n', '#', '0', '-1', '99999999999999999999', '1:2', 'root:', '0:4294967296', '65536/tcp', '8080-', '/', '..',
];

const TOML_TOKENS = [
  '[[registry]]\n', '[[registry.mirror]]\n', '[aliases]\n', '[registry]\n', 'location = ', 'prefix = ', 'insecure = ', 'blocked = ', 'pull-from-mirror = ',
  'unqualified-search-registries = ', 'short-name-mode = ', 'mirror = ', '"', "'", '"""', "'''", '[', ']', '{', '}', '=', '\n', 'true', 'false', '1979-05-27T07:32:00Z',
  '0x7fffffffffffffff', '99999999999999999999', '1e400', 'nan', 'inf', '-', '*.', '*', '.', '"a.b"', '\\u0000', '#', ',', '"digest-only"', '"tag-only"', '"x"',
  '"example.test"', '"localhost:5000"', '"busybox" = "example.test/x"\n', '[]', '[1, "a"]', '{ a = 1 }',
];

const REFERENCE_TOKENS = [
  '/', ':', '@', '@sha256:', `@sha256:${'c'.repeat(64)}`, '@sha512:', 'sha256:', '.', '-', '_', '__', '[', ']', '[::1]', ':5000', ':0', ':99999999999',
  'localhost', 'docker.io', 'index.docker.io', 'library/', 'A', '\u0000', ' ', 'x'.repeat(128), 'linux', 'amd64', 'arm', 'v7', '//', '\n',
];

/** Inside a JSON string (User, Env, WorkingDir, OnBuild): users as numbers and names, and what expands. */
const USER_TOKENS = ['0', '1000', ':', '4294967296', '2147483648', '-1', 'root', 'user', 'nobody', 'users', '$HOME', '${A}', '..', '/', 'RUN ', 'ONBUILD ', 'FROM x', '\\n', '='];

const AUTH_TOKENS = [...JSON_TOKENS, '"auths":', '"auth":', '"identitytoken":', '"credHelpers":', '"credsStore":', '"example.test":', '"docker.io":',
  '"https://index.docker.io/v1/":', '"dXNlcjpwYXNz"', '"!!!"', '"Og=="', '"x"', '{"auth":1}', '{"auth":"dXNlcjpwYXNz"}'];

/** @type {Record<string, { name: string, corpora: string[], mutators: (skip: Set<string>) => {name: string}[], fixtureSeeds: (fixtures: string) => Promise<string[]>, shortRunInputs?: number }>} */
export const TARGET_SPECS = {
  tar: { name: 'tar', corpora: ['tar'], mutators: tarMutators, fixtureSeeds: goTarFixtures },
  layer: { name: 'layer', corpora: ['tar'], mutators: tarMutators, fixtureSeeds: goTarFixtures },
  unpack: { name: 'unpack', corpora: ['unpack', 'tar'], mutators: tarMutators, fixtureSeeds: none },
  dockerfile: { name: 'dockerfile', corpora: ['dockerfile'], mutators: () => [...textMutators(DOCKERFILE_TOKENS), lineRepeat], fixtureSeeds: buildkitDockerfiles },
  'registries-conf': { name: 'registries-conf', corpora: ['registries-conf'], mutators: () => textMutators(TOML_TOKENS), fixtureSeeds: none },
  'auth-json': { name: 'auth-json', corpora: ['auth-json'], mutators: () => [...textMutators(AUTH_TOKENS), jsonNode, jsonNode, jsonNode], fixtureSeeds: none },
  schema: { name: 'schema', corpora: ['schema'], mutators: () => [...BYTE_MUTATORS.slice(0, 5), insertToken(JSON_TOKENS), jsonNode, jsonNode, jsonNode, jsonNode], fixtureSeeds: none },
  'image-config': { name: 'image-config', corpora: ['image-config'], mutators: () => [insertToken(USER_TOKENS), insertToken(JSON_TOKENS), jsonNode, jsonNode, jsonNode, jsonUser, jsonUser, flipBit], fixtureSeeds: none },
  references: { name: 'references', corpora: ['references'], mutators: () => textMutators(REFERENCE_TOKENS), fixtureSeeds: none },
  // Each input is a pull into a fresh store (tens of ms): fewer inputs keep the short run short.
  'registry-answer': { name: 'registry-answer', corpora: ['registry-answer'], mutators: () => HTTP_MUTATORS, fixtureSeeds: none, shortRunInputs: 200 },
  'registry-push-answer': { name: 'registry-push-answer', corpora: ['registry-push-answer'], mutators: () => HTTP_MUTATORS, fixtureSeeds: none, shortRunInputs: 200 },
};
