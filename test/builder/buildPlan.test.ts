import { describe, expect, test } from 'vitest';
import { DockerfileError, parseDockerfile, planBuild, StageState } from '@tsbuild/builder';

const amd64 = { os: 'linux', architecture: 'amd64' };
const plan = (src: string, opts: { target?: string; buildArgs?: Record<string, string> } = {}) =>
  planBuild(parseDockerfile(src, 'Dockerfile'), { buildArgs: opts.buildArgs ?? {}, platform: amd64, ...(opts.target ? { target: opts.target } : {}) });

const MULTI = [
  'ARG ALPINE=3.20',
  'FROM alpine:${ALPINE} AS base',
  'FROM golang AS build',
  'COPY --from=base /etc/os-release /',
  'FROM base AS test',
  'RUN --mount=type=bind,from=build,target=/src true',
  'FROM scratch',
  'COPY --from=1 /out /app',
  'COPY --from=docker.io/library/busybox /bin/busybox /bin/',
].join('\n');

describe('planBuild', () => {
  test('the last stage is the default target; only the stages it needs are planned, dependencies first', () => {
    const p = plan(MULTI);
    expect(p.target).toBe(3);
    expect(p.stages.map((s) => s.index)).toEqual([0, 1, 3]);
    expect(p.stages.map((s) => s.base)).toEqual([
      { kind: 'image', ref: 'alpine:3.20' },
      { kind: 'image', ref: 'golang' },
      { kind: 'scratch' },
    ]);
    expect(p.stages[2]).toMatchObject({ dependsOn: [1], imageSources: ['docker.io/library/busybox'] });
    expect(p.stages[1]).toMatchObject({ name: 'build', dependsOn: [0] });
  });

  test('target by name (any case) or index; FROM an earlier stage and RUN --mount from= are dependencies', () => {
    const p = plan(MULTI, { target: 'TEST' });
    expect(p.target).toBe(2);
    expect(p.stages.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(p.stages[2]).toMatchObject({ base: { kind: 'stage', index: 0 }, dependsOn: [0, 1] });
    expect(plan(MULTI, { target: '0' }).stages.map((s) => s.index)).toEqual([0]);
  });

  test('unknown target is an error naming the stages', () => {
    expect(() => plan(MULTI, { target: 'nope' })).toThrow('target stage "nope" could not be found (stages: base, build, test)');
  });

  test('global ARGs and build args expand FROM; platform args are available there too', () => {
    const src = 'ARG TAG=1\nARG IMG=repo/${TARGETARCH}:$TAG\nFROM --platform=$BUILDPLATFORM ${IMG}\n';
    expect(plan(src).stages[0]).toMatchObject({ base: { kind: 'image', ref: 'repo/amd64:1' }, platform: { os: 'linux', architecture: 'amd64' } });
    expect(plan(src, { buildArgs: { TAG: '2' } }).stages[0]!.base).toEqual({ kind: 'image', ref: 'repo/amd64:2' });
    expect(() => plan('ARG X\nFROM $X\n')).toThrow(/base name \(\$X\) should not be blank/);
  });

  test('platform ARGs reach a stage when declared with ARG', () => {
    const df = parseDockerfile('FROM scratch\nARG TARGETPLATFORM\nARG TARGETARCH TARGETVARIANT BUILDOS\nLABEL p=$TARGETPLATFORM a=$TARGETARCH v=$TARGETVARIANT b=$BUILDOS\n', 'Dockerfile');
    const p = planBuild(df, { buildArgs: {}, platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, buildPlatform: amd64 });
    const state = new StageState({ globalArgs: p.globalArgs, buildArgs: p.buildArgs, escape: p.escape });
    for (const i of p.stages[0]!.stage.instructions) state.apply(i);
    expect(state.config.Labels).toEqual({ p: 'linux/arm/v7', a: 'arm', v: 'v7', b: 'linux' });
  });

  test('an unused --build-arg is a warning, not an error', () => {
    const p = plan('ARG USED\nFROM scratch\nARG ALSO\n', { buildArgs: { USED: '1', ALSO: '2', UNUSED: '3', HTTP_PROXY: 'x' } });
    expect(p.warnings).toEqual(['One or more build-args [UNUSED] were not consumed']);
  });

  test('COPY --from a later stage, or itself, is an error with a location', () => {
    const e = (() => {
      try {
        plan('FROM scratch AS a\nCOPY --from=b x y\nFROM scratch AS b\n', { target: 'a' });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(DockerfileError);
    expect((e as Error).message).toBe('Dockerfile:2:1: COPY: cannot copy from stage "b", it needs to be defined before current stage "a"');
    expect(() => plan('FROM scratch AS a\nCOPY --from=a x y\n')).toThrow(/circular dependency/);
  });
});

describe('what the fuzz harness found (test/fuzz)', () => {
  test('a FROM --platform that is not os/arch[/variant] is a DockerfileError at the FROM, found when planning', () => {
    for (const value of ['linux', 'linux/amd64/v8/extra', '/amd64', '${NOPE}x']) {
      const run = () => plan(`FROM scratch\nFROM --platform=${value} busybox\n`);
      expect(run, value).toThrow(DockerfileError);
      try {
        run();
      } catch (e) {
        expect((e as DockerfileError).location?.line).toBe(2);
        expect((e as DockerfileError).message).toMatch(/^Dockerfile:2:1: FROM: invalid platform/);
      }
    }
    expect(plan('FROM --platform=linux/arm/v7 busybox\n').stages[0]!.platform).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });
});
