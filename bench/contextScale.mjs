// Issue 14's context-scale measurement: N files of ~1 KiB in D directories, `FROM scratch` /
// `COPY tree /tree`, built cold, rebuilt unchanged, and rebuilt after one file changed.
// Each run is measured by /usr/bin/time -v (wall, user+sys CPU, peak RSS), because the machine
// is shared and CPU seconds are steadier than wall time.
// Usage: node bench/contextScale.mjs [files=50000] [dirs=100] [tsbuild bin] [work dir]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const files = Number(process.argv[2] ?? 50000);
const dirs = Number(process.argv[3] ?? 100);
const bin = resolve(process.argv[4] ?? new URL('../packages/builder/bin/tsbuild.js', import.meta.url).pathname);
const work = resolve(process.argv[5] ?? join(tmpdir(), `context-scale-${files}`));

function writeContext(dir) {
  if (existsSync(join(dir, 'Dockerfile'))) return;
  const perDir = Math.ceil(files / dirs);
  const body = Buffer.alloc(1024);
  for (let d = 0, n = 0; d < dirs && n < files; d++) {
    const sub = join(dir, 'tree', `pkg${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < perDir && n < files; f++, n++) {
      body.fill(`file ${n} of package ${d}\n`);
      writeFileSync(join(sub, `f${f}.js`), body);
    }
  }
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\n');
}

function measured(label, args) {
  const r = spawnSync('/usr/bin/time', ['-v', 'node', bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${label} failed: ${r.stderr.slice(-2000)}`);
  const field = (name) => Number(new RegExp(`${name}: (\\S+)`).exec(r.stderr)[1]);
  const wallText = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(r.stderr)[1];
  const wall = wallText.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  const cpu = field('User time \\(seconds\\)') + field('System time \\(seconds\\)');
  const rssMiB = field('Maximum resident set size \\(kbytes\\)') / 1024;
  return { label, wall, cpu, rssMiB };
}

const contextDir = join(work, 'context');
writeContext(contextDir);
const root = join(work, 'root');
rmSync(root, { recursive: true, force: true });
const build = ['--root', root, 'build', '-q', '-t', 'scale', contextDir];
const rows = [measured('cold build', build), measured('unchanged rebuild', build)];
const changed = join(contextDir, 'tree', 'pkg0', 'f0.js');
writeFileSync(changed, `changed at ${Date.now()}\n`.padEnd(1024, '.'));
rows.push(measured('rebuild after one changed file', build));
console.log(`| ${files} files in ${dirs} dirs | wall s | user+sys CPU s | peak RSS MiB |`);
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.wall.toFixed(1)} | ${r.cpu.toFixed(1)} | ${r.rssMiB.toFixed(0)} |`);
execFileSync('du', ['-sh', join(root, 'cache')], { stdio: 'inherit' });
