import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ContainerConfig } from '@tsbuild/oci-layout';
import { DockerfileError, parseDockerfile, parseOnbuildTriggers, planBuild, StageState, type Step } from '@tsbuild/builder';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const platform = { os: 'linux', architecture: 'amd64' };

/** Applies the target stage of `src`; returns the state and each instruction's step. */
function run(src: string, opts: { base?: ContainerConfig; buildArgs?: Record<string, string> } = {}) {
  const df = parseDockerfile(src, 'Dockerfile');
  const plan = planBuild(df, { buildArgs: opts.buildArgs ?? {}, platform });
  const stage = plan.stages[plan.stages.length - 1]!;
  const state = new StageState({
    ...(opts.base ? { base: opts.base } : {}),
    globalArgs: plan.globalArgs,
    buildArgs: plan.buildArgs,
    escape: plan.escape,
  });
  const steps: Step[] = stage.stage.instructions.map((i) => state.apply(i));
  return { state, steps, config: state.config };
}

const createdBy = (steps: Step[]) => steps.map((s) => s.createdBy);
const runArgs = (step: Step | undefined) => (step?.kind === 'run' ? step.op.args : undefined);

describe('variables', () => {
  test('ENV A=1 B=$A sees the value A had before the instruction', () => {
    const { config } = run('FROM scratch\nENV A=0\nENV A=1 B=$A C=${A}x\n');
    expect(config.Env).toEqual([PATH, 'A=1', 'B=0', 'C=0x']);
  });

  test('legacy ENV form takes the rest of the line; quotes are removed by expansion', () => {
    const { config, steps } = run('FROM scratch\nENV GREETING hello  "big" world\nENV Q="a b" R=\'$x\'\n');
    expect(config.Env).toEqual([PATH, 'GREETING=hello  big world', 'Q=a b', 'R=$x']);
    expect(createdBy(steps)).toEqual(['ENV GREETING=hello  big world', 'ENV Q=a b R=$x']);
  });

  test('ARG default, overridden by a build arg; ARG values are in RUN env and history, not in the image', () => {
    const src = 'FROM scratch\nARG V=1\nARG W\nRUN echo $V\n';
    const a = run(src);
    expect(a.config.Env).toEqual([PATH]);
    expect(createdBy(a.steps)).toEqual(['ARG V=1', 'ARG W', 'RUN |2 V=1 W= /bin/sh -c echo $V # buildkit']);
    const b = run(src, { buildArgs: { V: '2', W: 'w' } });
    expect(createdBy(b.steps)[2]).toBe('RUN |2 V=2 W=w /bin/sh -c echo $V # buildkit');
    const op = b.steps[2]!.kind === 'run' ? b.steps[2]!.op : undefined;
    expect(op?.env).toEqual([PATH, 'V=2', 'W=w']);
  });

  test('a global ARG is visible in a stage only when re-declared; `ARG V` then takes the global value', () => {
    const src = 'ARG V=global\nFROM scratch\nLABEL before=x$V\nARG V\nLABEL after=$V\n';
    expect(run(src).config.Labels).toEqual({ before: 'x', after: 'global' });
    expect(run(src, { buildArgs: { V: 'cli' } }).config.Labels).toEqual({ before: 'x', after: 'cli' });
  });

  test('ENV overrides an ARG of the same name, even one given as a build arg', () => {
    const { config, steps } = run('FROM scratch\nARG X=arg\nENV X=env\nLABEL x=$X\nRUN true\n', { buildArgs: { X: 'cli' } });
    expect(config.Labels).toEqual({ x: 'env' });
    expect(config.Env).toEqual([PATH, 'X=env']);
    expect(createdBy(steps)[3]).toBe('RUN |1 X=env /bin/sh -c true # buildkit');
  });

  test('base image Env is the starting scope; PATH is added only when missing', () => {
    const { config } = run('FROM scratch\nENV B=$A-2\n', { base: { Env: ['PATH=/bin', 'A=1'] } });
    expect(config.Env).toEqual(['PATH=/bin', 'A=1', 'B=1-2']);
  });

  test('expansion happens in ADD COPY ENV EXPOSE LABEL STOPSIGNAL USER VOLUME WORKDIR, not RUN CMD ENTRYPOINT', () => {
    const { config, steps } = run(
      [
        'FROM scratch',
        'ENV P=8080 U=app D=/srv S=SIGTERM F=a.txt',
        'EXPOSE $P',
        'USER $U',
        'WORKDIR $D',
        'VOLUME $D/data',
        'STOPSIGNAL $S',
        'COPY $F ${D}/',
        'ADD $F $D/b',
        'RUN echo $U',
        'CMD echo $U',
        'ENTRYPOINT ["echo", "$U"]',
      ].join('\n'),
    );
    expect(config.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(config.User).toBe('app');
    expect(config.WorkingDir).toBe('/srv');
    expect(config.Volumes).toEqual({ '/srv/data': {} });
    expect(config.StopSignal).toBe('SIGTERM');
    const copy = steps[6]!.kind === 'copy' ? steps[6]!.op : undefined;
    expect(copy).toMatchObject({ sources: ['a.txt'], dest: '/srv/' });
    const add = steps[7]!.kind === 'copy' ? steps[7]!.op : undefined;
    expect(add).toMatchObject({ isAdd: true, sources: ['a.txt'], dest: '/srv/b' });
    expect(runArgs(steps[8])).toEqual(['/bin/sh', '-c', 'echo $U']);
    expect(config.Cmd).toEqual(['/bin/sh', '-c', 'echo $U']);
    expect(config.Entrypoint).toEqual(['echo', '$U']);
  });
});

describe('config instructions', () => {
  test('WORKDIR is relative to the previous one and asks the executor to create it', () => {
    const { config, steps } = run('FROM scratch\nUSER 1000\nWORKDIR /a\nWORKDIR b/../c\nWORKDIR /\n');
    expect(config.WorkingDir).toBe('/');
    expect(steps.slice(1)).toEqual([
      { kind: 'workdir', createdBy: 'WORKDIR /a', path: '/a', user: '1000' },
      { kind: 'workdir', createdBy: 'WORKDIR /a/c', path: '/a/c', user: '1000' },
      { kind: 'config', createdBy: 'WORKDIR /' },
    ]);
  });

  test('WORKDIR starts from the base image working dir', () => {
    expect(run('FROM scratch\nWORKDIR sub\n', { base: { WorkingDir: '/base' } }).config.WorkingDir).toBe('/base/sub');
  });

  test('EXPOSE: default /tcp, protocols, ranges', () => {
    const { config, steps } = run('FROM scratch\nEXPOSE 80 53/udp 8000-8002\n');
    expect(Object.keys(config.ExposedPorts!).sort()).toEqual(['53/udp', '80/tcp', '8000/tcp', '8001/tcp', '8002/tcp']);
    expect(createdBy(steps)).toEqual(['EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp 8002/tcp]']);
    expect(() => run('FROM scratch\nEXPOSE 80/xyz\n')).toThrow(DockerfileError);
  });

  test('VOLUME in JSON and plain form', () => {
    const { config, steps } = run('FROM scratch\nVOLUME ["/data", "/with space"]\nVOLUME /a /b\n');
    expect(Object.keys(config.Volumes!)).toEqual(['/data', '/with space', '/a', '/b']);
    expect(createdBy(steps)).toEqual(['VOLUME [/data /with space]', 'VOLUME [/a /b]']);
  });

  test('CMD and ENTRYPOINT: shell form goes through SHELL, exec form as is, history uses %q', () => {
    const { config, steps } = run('FROM scratch\nCMD ["/hello"]\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT echo "hi" | cat\n');
    expect(config.Cmd).toEqual(['/hello']);
    expect(config.Entrypoint).toEqual(['/bin/bash', '-o', 'pipefail', '-c', 'echo "hi" | cat']);
    expect(config.Shell).toEqual(['/bin/bash', '-o', 'pipefail', '-c']);
    expect(createdBy(steps)).toEqual([
      'CMD ["/hello"]',
      'SHELL [/bin/bash -o pipefail -c]',
      'ENTRYPOINT ["/bin/bash" "-o" "pipefail" "-c" "echo \\"hi\\" | cat"]',
    ]);
  });

  test('ENTRYPOINT clears an inherited CMD but keeps one set earlier in the stage', () => {
    const base = { Cmd: ['bash'], Entrypoint: ['/old'] };
    expect(run('FROM scratch\nENTRYPOINT ["/app"]\n', { base }).config.Cmd).toBeNull();
    const own = run('FROM scratch\nCMD ["--help"]\nENTRYPOINT ["/app"]\n', { base }).config;
    expect(own.Cmd).toEqual(['--help']);
    expect(own.Entrypoint).toEqual(['/app']);
  });

  test('LABEL with quotes, USER, STOPSIGNAL, MAINTAINER, ONBUILD', () => {
    const { state, config, steps } = run(
      'FROM scratch\nLABEL "com.example.name"="my app" version=1.0 desc=a\\ b\nUSER nobody:nogroup\nSTOPSIGNAL SIGKILL\nMAINTAINER Jane\nONBUILD COPY . /src\n',
    );
    expect(config.Labels).toEqual({ 'com.example.name': 'my app', version: '1.0', desc: 'a b' });
    expect(config.User).toBe('nobody:nogroup');
    expect(config.StopSignal).toBe('SIGKILL');
    expect(state.author).toBe('Jane');
    expect(config.OnBuild).toEqual(['COPY . /src']);
    expect(createdBy(steps)).toEqual([
      'LABEL com.example.name=my app version=1.0 desc=a b',
      'USER nobody:nogroup',
      'STOPSIGNAL SIGKILL',
      'MAINTAINER Jane',
      undefined,
    ]);
    expect(() => run('FROM scratch\nSTOPSIGNAL SIGNOPE\n')).toThrow(/Invalid signal: SIGNOPE/);
  });

  test('HEALTHCHECK is stored with durations in nanoseconds; NONE disables', () => {
    const { config, steps } = run('FROM scratch\nHEALTHCHECK --interval=5s --retries=2 CMD ["/check"]\n');
    expect(config.Healthcheck).toEqual({ Test: ['CMD', '/check'], Interval: 5e9, Retries: 2 });
    expect(createdBy(steps)).toEqual([
      'HEALTHCHECK {Test:[CMD /check] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}',
    ]);
    expect(run('FROM scratch\nHEALTHCHECK NONE\n').config.Healthcheck).toEqual({ Test: ['NONE'] });
  });

  test("the base image's ONBUILD triggers run first, located at FROM, and are not inherited", () => {
    const base: ContainerConfig = { OnBuild: ['ENV FROM_TRIGGER=1', 'COPY . /src'] };
    const { state, config, steps } = run('FROM scratch\nONBUILD RUN make\n', { base });
    expect(state.inheritedTriggers).toEqual(['ENV FROM_TRIGGER=1', 'COPY . /src']);
    expect(config.OnBuild).toEqual(['RUN make']);
    expect(steps).toEqual([{ kind: 'config' }]);
    const at = { file: 'Dockerfile', line: 1, column: 1 };
    const triggers = parseOnbuildTriggers(state.inheritedTriggers, at);
    const applied = triggers.map((i) => state.apply(i));
    expect(applied.map((s) => s.createdBy)).toEqual(['ENV FROM_TRIGGER=1', 'COPY . /src # buildkit']);
    expect(triggers[1]!.location).toEqual(at);
    expect(() => parseOnbuildTriggers(['FROM x'], at)).toThrow(`Dockerfile:1:1: FROM: base image ONBUILD trigger "FROM x": FROM isn't allowed as an ONBUILD trigger`);
  });

  test('the base config is copied, not modified', () => {
    const base: ContainerConfig = { Env: ['PATH=/bin'], Labels: { a: '1' } };
    run('FROM scratch\nENV X=1\nLABEL b=2\n', { base });
    expect(base).toEqual({ Env: ['PATH=/bin'], Labels: { a: '1' } });
  });
});

describe('COPY and ADD', () => {
  test('dest is made absolute against WORKDIR and keeps a trailing slash', () => {
    const { steps } = run('FROM scratch\nWORKDIR /app\nCOPY a .\nCOPY a b/\nCOPY a ../c\nCOPY a /abs//d/\n');
    const dests = steps.slice(1).map((s) => (s.kind === 'copy' ? s.op.dest : undefined));
    expect(dests).toEqual(['/app/', '/app/b/', '/c', '/abs/d/']);
  });

  test('flags are expanded and parsed; history matches BuildKit', () => {
    const { steps } = run('FROM scratch\nARG U=1000\nCOPY --from=build --chown=$U:$U --chmod=0755 --link a b /dst/\n');
    expect(steps[1]).toEqual({
      kind: 'copy',
      createdBy: 'COPY --chown=1000:1000 --chmod=0755 a b /dst/ # buildkit',
      op: {
        isAdd: false,
        sources: ['a', 'b'],
        heredocs: [],
        dest: '/dst/',
        from: 'build',
        chown: '1000:1000',
        chmod: 0o755,
        link: true,
        exclude: [],
        parents: false,
        location: { file: 'Dockerfile', line: 3, column: 1 },
      },
    });
  });

  test('heredoc files are expanded unless the delimiter is quoted; <<- strips tabs', () => {
    const { steps } = run("FROM scratch\nENV N=world\nCOPY <<-A <<'B' /etc/\n\thello $N\n\tA\nraw $N\nB\n");
    const op = steps[1]!.kind === 'copy' ? steps[1]!.op : undefined;
    expect(op?.heredocs).toEqual([
      { name: 'A', content: 'hello world\n' },
      { name: 'B', content: 'raw $N\n' },
    ]);
    expect(steps[1]!.createdBy).toBe('COPY <<A <<B /etc/ # buildkit');
  });

  test('errors: variables in --from, non-octal chmod, checksum on a local file', () => {
    expect(() => run('FROM scratch\nARG S=x\nCOPY --from=$S a b\n')).toThrow(/variable expansion is not supported for --from/);
    expect(() => run('FROM scratch\nCOPY --chmod=u+x a b\n')).toThrow(/Dockerfile:2:1: COPY: invalid chmod parameter/);
    expect(() => run('FROM scratch\nADD --checksum=sha256:00 a b\n')).toThrow(/checksum requires HTTP\(S\) or Git sources/);
  });
});

describe('RUN', () => {
  test('shell form through SHELL, exec form as is, workdir, user, mounts, network', () => {
    const { steps } = run(
      'FROM scratch\nWORKDIR /w\nUSER 5\nARG C=/cache\nRUN --mount=type=cache,target=$C --network=none ["make", "$C"]\n',
    );
    const step = steps[3]!;
    expect(step.createdBy).toBe('RUN |1 C=/cache make $C # buildkit');
    expect(step.kind === 'run' && step.op).toMatchObject({
      args: ['make', '$C'],
      workdir: '/w',
      user: '5',
      network: 'none',
      mounts: [{ type: 'cache', target: '/cache', readonly: false }],
      inlineFiles: [],
    });
  });

  test('a bind mount is read-only unless rw; a bad mount names the instruction', () => {
    const { steps } = run('FROM scratch\nRUN --mount=type=bind,source=x,target=/x --mount=type=tmpfs,dst=/t,size=1m true\n');
    expect(steps[0]!.kind === 'run' && steps[0]!.op.mounts).toEqual([
      { type: 'bind', source: 'x', target: '/x', readonly: true },
      { type: 'tmpfs', target: '/t', size: 1048576, readonly: false },
    ]);
    expect(() => run('FROM scratch\nRUN --mount=type=nope,target=/x true\n')).toThrow(/Dockerfile:2:1: RUN: unsupported mount type "nope"/);
  });

  test('heredocs: a lone heredoc runs its body, a shebang body runs as a file, several are handed to the shell', () => {
    const lone = run('FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\n').steps[0]!;
    expect(runArgs(lone)).toEqual(['/bin/sh', '-c', 'echo a\necho b\n']);
    const script = run('FROM scratch\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n').steps[0]!;
    expect(script.kind === 'run' && script.op.inlineFiles).toEqual([
      { path: '/dev/pipes/EOF', content: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o755 },
    ]);
    expect(runArgs(script)).toEqual(['/bin/sh', '-c', '/dev/pipes/EOF']);
    const two = run('FROM scratch\nRUN <<A cat > /a && <<-B cat > /b\none\nA\n\ttwo\n\tB\n').steps[0]!;
    expect(runArgs(two)).toEqual(['/bin/sh', '-c', '<<A cat > /a && <<-B cat > /b\none\nA\n\ttwo\nB']);
  });
});

/** Builds `dockerfile` with buildah (isolated storage) and returns the resulting image's config. */
function buildahConfig(dockerfile: string, buildArgs: Record<string, string>): ContainerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-stage-oracle-'));
  try {
    mkdirSync(join(dir, 'ctx'));
    writeFileSync(join(dir, 'ctx', 'Dockerfile'), dockerfile);
    const storage = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
    const args = Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
    execFileSync('buildah', [...storage, 'bud', '--isolation', 'chroot', ...args, '-t', 'oracle', join(dir, 'ctx')], { stdio: 'pipe' });
    const image = JSON.parse(execFileSync('buildah', [...storage, 'inspect', '--type', 'image', 'oracle'], { encoding: 'utf8' }));
    return image.OCIv1.config as ContainerConfig;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('against buildah', () => {
  test('config-only instructions produce the config buildah produces', () => {
    const dockerfile = [
      'ARG G=global',
      'FROM scratch',
      'ARG G',
      'ARG LOCAL=l',
      'ENV A=0',
      'ENV A=1 B=$A C="x y" D=$G E=${LOCAL:-none} F=${NOPE:-dflt} H=\'$A\'',
      'ENV LEG hello  "big" world',
      'LABEL "com.example.name"="my app" version=1.0 g=$G',
      'EXPOSE 80 53/udp $A',
      'WORKDIR /app',
      'WORKDIR sub/../lib',
      'USER nobody:$G',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /x $LOCAL',
      'STOPSIGNAL SIGKILL',
      'CMD ["--help"]',
      'ENTRYPOINT echo "$A" | cat',
    ].join('\n');
    const buildArgs = { G: 'cli' };
    const expected = buildahConfig(dockerfile, buildArgs);
    delete expected.Labels!['io.buildah.version'];
    const { config } = run(dockerfile, { buildArgs });
    for (const key of ['Env', 'Labels', 'ExposedPorts', 'WorkingDir', 'User', 'Volumes', 'StopSignal', 'Cmd', 'Entrypoint'] as const) {
      expect({ [key]: config[key] }).toEqual({ [key]: expected[key] });
    }
  });
});

describe('expansion size', () => {
  test('each instruction\'s expansion is bounded (ENV A=$A$A, line after line), and so are all of a build\'s', () => {
    const doubling = ['FROM scratch', 'ENV A=xxxxxxxxxxxxxxxx', ...Array.from({ length: 40 }, () => 'ENV A=$A$A')].join('\n');
    expect(() => run(`${doubling}\n`)).toThrow(/^Dockerfile:21:1: ENV: variable expansion makes more than 4194304 characters$/);
    // A of 1 MiB, then one label of it a line: the build's expansions stop at 16 Mi characters in all.
    const oneMiB = ['FROM scratch', 'ENV A=xxxxxxxxxxxxxxxx', ...Array.from({ length: 16 }, () => 'ENV A=$A$A')];
    const labels = Array.from({ length: 40 }, (_, i) => `LABEL l${i}=$A`);
    expect(() => run(`${[...oneMiB, ...labels].join('\n')}\n`)).toThrow(/^Dockerfile:3[2-4]:1: LABEL: the build's variable expansions make more than 16777216 characters in all$/);
    const { config } = run(`${[...oneMiB, ...labels.slice(0, 12)].join('\n')}\n`);
    expect(Object.keys(config.Labels ?? {})).toHaveLength(12);
  });
});
