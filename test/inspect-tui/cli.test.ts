import { copyFile, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/tempDirs.js';
import { requireTools, run } from '../helpers/tools.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';
import { tsdive, type TsdiveResult } from '../helpers/tsdiveCli.js';

const dirs = tempDirs();

afterAll(() => dirs.cleanup());

const DEFAULT_REPORT = `Analysis:
  efficiency:        98.44 %
  wastedBytes:       32025 bytes (32 kB)
  userWastedPercent: 48.35 %

Inefficient Files:
  Count  Wasted Space  File Path
  2      13 kB         /root/saved.txt
  2      13 kB         /root/example/somefile1.txt
  2      6.4 kB        /root/example/somefile3.txt

Evaluation:
  FAIL  highestUserWastedPercent (too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.1))
  SKIP  highestWastedBytes (disabled)
  PASS  lowestEfficiency (0.9)

FAIL [pass:1 fail:1 skip:1]
`;

describe('tsdive --json', () => {
  it('writes dive\'s JSON document with dive\'s figures to stdout', async () => {
    const r = await tsdive(['--json', '-', `docker-archive:${DIVE_IMAGE}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.image).toEqual({
      sizeBytes: 1220598,
      inefficientBytes: 32025,
      efficiencyScore: 0.9844212134184309,
      fileReference: [
        { count: 2, sizeBytes: 12810, file: '/root/saved.txt' },
        { count: 2, sizeBytes: 12810, file: '/root/example/somefile1.txt' },
        { count: 2, sizeBytes: 6405, file: '/root/example/somefile3.txt' },
      ],
      userWastedPercent: 0.4834911001404049,
    });
    expect(doc.layer).toHaveLength(14);
    expect(doc.layer[0]).toMatchObject({
      index: 0,
      id: '28cfe03618aa2e914e81fdd90345245c15f4478e35252c06ca52d238fd3cc694',
      digestId: 'sha256:23bc2b70b2014dec0ac22f27bb93e9babd08cdd6f1115d0c955b9ff22b382f5a',
      sizeBytes: 1154361,
    });
    // the last layer's tree as dive lists it: children first, directories with Go's ModeDir bit
    expect(doc.layer[13].command).toBe('chmod +x /root/saved.txt');
    expect(doc.layer[13].fileList).toEqual([
      { path: 'root/saved.txt', typeFlag: 48, linkName: '', size: 6405, fileMode: 0o755, uid: 0, gid: 0, isDir: false },
      { path: 'root', typeFlag: 53, linkName: '', size: 0, fileMode: 2 ** 31 + 0o700, uid: 0, gid: 0, isDir: true },
    ]);
    expect(doc.layer[9].fileList.map((f: { path: string }) => f.path)).toEqual(['root/.wh.example', 'root']);
  });

  it('writes the document to a file', async () => {
    const out = join(await dirs.make(), 'analysis.json');
    const r = await tsdive(['--json', out, `docker-archive:${DIVE_IMAGE}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(JSON.parse(await readFile(out, 'utf8')).image.inefficientBytes).toBe(32025);
  });
});

describe('tsdive on the same image in other forms', () => {
  it('gives the same figures from OCI layouts with gzip, zstd and uncompressed layers', async () => {
    await requireTools({ skopeo: 'skopeo' });
    const dir = await dirs.make();
    const forms: Record<string, string[]> = {
      gzip: ['--dest-compress', '--dest-compress-format', 'gzip'],
      zstd: ['--dest-compress', '--dest-compress-format', 'zstd'],
      plain: [],
    };
    for (const [form, flags] of Object.entries(forms)) {
      await run('skopeo', ['copy', '-q', ...flags, `docker-archive:${DIVE_IMAGE}`, `oci:${join(dir, form)}:dive-test`]);
      const r = await tsdive(['--json', '-', `oci:${join(dir, form)}:dive-test`]);
      expect(r.stderr).toBe('');
      const image = JSON.parse(r.stdout).image;
      expect([form, image.efficiencyScore, image.inefficientBytes, image.sizeBytes, image.userWastedPercent]).toEqual([
        form,
        0.9844212134184309,
        32025,
        1220598,
        0.4834911001404049,
      ]);
    }
  });
});

describe('tsdive --ci', () => {
  it('fails dive\'s default rules on dive\'s test image with dive\'s report, exit code 1', async () => {
    const cwd = await dirs.make();
    const r = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd });
    expect(r.stdout).toBe(DEFAULT_REPORT);
    expect(r.code).toBe(1);
  });

  it('is switched on by CI=true', async () => {
    const r = await tsdive([`docker-archive:${DIVE_IMAGE}`], { cwd: await dirs.make(), env: { CI: 'true' } });
    expect(r.stdout).toBe(DEFAULT_REPORT);
    expect(r.code).toBe(1);
  });

  it('passes with the rules of .tsdive-ci.toml in the working directory, exit code 0', async () => {
    const cwd = await dirs.make();
    await writeFile(join(cwd, '.tsdive-ci.toml'), '[rules]\nlowestEfficiency = 0.95\nhighestWastedBytes = "20MB"\nhighestUserWastedPercent = 0.5\n');
    const r = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd });
    expect(r.stdout).toContain('  PASS  highestUserWastedPercent (0.5)\n  PASS  highestWastedBytes (20MB)\n  PASS  lowestEfficiency (0.95)\n\nPASS [pass:3]\n');
    expect(r.code).toBe(0);
  });

  it('reads dive\'s .dive-ci rules block, ignoring what else the file has', async () => {
    const cwd = await dirs.make();
    await writeFile(
      join(cwd, '.dive-ci'),
      [
        'plugins:',
        '  - plugin1',
        '',
        'rules:',
        '  # If the efficiency is measured below X%, mark as failed.',
        '  lowestEfficiency: 0.95',
        '  highestWastedBytes: 20Mb',
        '  highestUserWastedPercent: 0.5',
        '  plugin1/rule1: error',
        '',
      ].join('\n'),
    );
    const r = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd });
    expect(r.stdout).toContain('PASS  highestWastedBytes (20Mb)');
    expect(r.stdout).toContain('PASS [pass:3]');
    expect(r.code).toBe(0);
  });

  it('fails a wasted-bytes limit given by --ci-config and says why', async () => {
    const dir = await dirs.make();
    const config = join(dir, 'rules.toml');
    await writeFile(config, '[rules]\nhighestWastedBytes = "30kB"\nhighestUserWastedPercent = false\n');
    const r = await tsdive(['--ci', '--ci-config', config, `docker-archive:${DIVE_IMAGE}`], { cwd: dir });
    expect(r.stdout).toContain('  FAIL  highestWastedBytes (too many bytes wasted (wasted-bytes=32025 > threshold=30000))');
    expect(r.stdout).toContain('  SKIP  highestUserWastedPercent (disabled)');
    expect(r.stdout).toContain('FAIL [pass:1 fail:1 skip:1]');
    expect(r.code).toBe(1);
  });

  it('rejects a malformed rule value with one line naming the file and the key, exit code 2', async () => {
    const dir = await dirs.make();
    const config = join(dir, 'bad.toml');
    await writeFile(config, '[rules]\nlowestEfficiency = "very"\n');
    const r = await tsdive(['--ci', '--ci-config', config, `docker-archive:${DIVE_IMAGE}`], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${config}: rules.lowestEfficiency`);
    expect(r.stderr).toContain('"very" is not a number');
  });

  it('rejects a config that is not TOML, naming the file and position', async () => {
    const cwd = await dirs.make();
    await writeFile(join(cwd, '.tsdive-ci.toml'), '[rules]\nlowestEfficiency = = 0.9\n');
    const r = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/\.tsdive-ci\.toml:2:\d+: invalid TOML/);
  });

  it('rejects an unknown rule and an out-of-range dive rule', async () => {
    const cwd = await dirs.make();
    await writeFile(join(cwd, '.tsdive-ci.toml'), '[rules]\nlowestEficiency = 0.9\n');
    const unknown = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('rules.lowestEficiency: unknown rule');

    const diveDir = await dirs.make();
    await writeFile(join(diveDir, '.dive-ci'), 'rules:\n  highestUserWastedPercent: 1.5\n');
    const range = await tsdive(['--ci', `docker-archive:${DIVE_IMAGE}`], { cwd: diveDir });
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('.dive-ci: rules.highestUserWastedPercent: 1.5 is outside the allowed range 0-1');
  });
});

describe('tsdive with images it cannot read', () => {
  const expectOneLineError = (r: TsdiveResult, pattern: RegExp) => {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsdive: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(pattern);
  };

  it('reports a truncated archive', async () => {
    const file = join(await dirs.make(), 'truncated.tar');
    await copyFile(DIVE_IMAGE, file);
    const handle = await open(file, 'r+');
    await handle.truncate(Math.floor((await stat(DIVE_IMAGE)).size / 2));
    await handle.close();
    expectOneLineError(await tsdive(['--json', '-', `docker-archive:${file}`]), /truncated/);
  });

  it('reports a missing file and a file that is not an archive', async () => {
    expectOneLineError(await tsdive(['--ci', 'docker-archive:/nonexistent/image.tar']), /no such file/);
    const file = join(await dirs.make(), 'notes.txt');
    await writeFile(file, 'just text\n'.repeat(100));
    expectOneLineError(await tsdive(['--ci', `docker-archive:${file}`]), /not a docker archive/);
  });

});
