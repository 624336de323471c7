// Turns measured runs into the markdown the bench prints and keeps in docs/BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median wall and CPU time over the runs; the peak RSS is the worst run, since it is a ceiling. */
export function summarise(bench) {
  return {
    ...bench,
    wallSeconds: median(bench.runs.map((r) => r.wallSeconds)),
    minWallSeconds: Math.min(...bench.runs.map((r) => r.wallSeconds)),
    cpuPressure: bench.runs.some((r) => r.cpuPressure === null) ? null : median(bench.runs.map((r) => r.cpuPressure)),
    cpuSeconds: median(bench.runs.map((r) => r.cpuSeconds)),
    peakRssBytes: Math.max(...bench.runs.map((r) => r.peakRssBytes)),
  };
}

function ratioCell(row, byKey) {
  if (!row.anchor) return '1.00 (anchor)';
  const anchor = byKey.get(row.anchor);
  return `${(row.wallSeconds / anchor.wallSeconds).toFixed(2)}x ${anchor.tool}`;
}

export function resultsTable(rows) {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const lines = [
    '| tool | case | median wall s | min wall s | median CPU s | peak RSS MiB | CPU pressure | wall ratio vs anchor |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const pressure = row.cpuPressure === null ? 'n/a' : `${(row.cpuPressure * 100).toFixed(0)}%`;
    lines.push(`| ${row.tool} | ${row.caseName} | ${row.wallSeconds.toFixed(2)} | ${row.minWallSeconds.toFixed(2)} | ${row.cpuSeconds.toFixed(2)} | `
      + `${(row.peakRssBytes / MiB).toFixed(0)} | ${pressure} | ${ratioCell(row, byKey)} |`);
  }
  return lines.join('\n');
}

/** The targets: at most half the anchor's time, and a memory ceiling independent of layer size. */
export function targetsTable(rows, { maxTimeRatio, maxRssBytes }) {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const lines = ['| target | measured | met |', '|---|---|---|'];
  for (const row of rows.filter((r) => r.target)) {
    const anchor = byKey.get(row.anchor);
    const ratio = row.wallSeconds / anchor.wallSeconds;
    lines.push(`| ${row.target}: ${row.tool} ${row.caseName} <= ${maxTimeRatio}x ${anchor.tool} | ${ratio.toFixed(2)}x | ${ratio <= maxTimeRatio ? 'yes' : '**no**'} |`);
  }
  const ours = rows.filter((r) => r.tool.startsWith('tsbuild'));
  const worst = ours.reduce((a, b) => (b.peakRssBytes > a.peakRssBytes ? b : a));
  const met = worst.peakRssBytes < maxRssBytes;
  lines.push(`| tsbuild peak RSS < ${maxRssBytes / MiB} MiB (every tsbuild row) | ${(worst.peakRssBytes / MiB).toFixed(0)} MiB (${worst.caseName}) | ${met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

/** Replaces what lies between the bench markers, leaving the hand-written text around them alone. */
export function writeIntoDoc(docPath, block) {
  const doc = readFileSync(docPath, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${docPath} lacks the ${START} ... ${END} markers`);
  writeFileSync(docPath, `${doc.slice(0, start + START.length)}\n${block}\n${doc.slice(end)}`);
}
