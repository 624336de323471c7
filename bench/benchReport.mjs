// Turns measured runs into the markdown the bench prints and keeps in docs/BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

export function median(values) {
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

const byKeyOf = (rows) => new Map(rows.map((r) => [r.key, r]));

/** A row whose runs were flagged (e.g. a "cached" build that missed the cache) meets no target. */
const flagged = (row) => (row.faults?.length ? ' (runs flagged in the table)' : '');

function ratioCell(row, byKey, rows) {
  if (!row.anchor) return rows.some((r) => r.anchor === row.key) ? '1.00 (anchor)' : '-';
  const anchor = byKey.get(row.anchor);
  return `${(row.wallSeconds / anchor.wallSeconds).toFixed(2)}x ${anchor.tool}`;
}

export function resultsTable(rows) {
  const byKey = byKeyOf(rows);
  const lines = [
    '| tool | case | median wall s | min wall s | median CPU s | peak RSS MiB | CPU pressure | wall ratio vs anchor |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const pressure = row.cpuPressure === null ? 'n/a' : `${(row.cpuPressure * 100).toFixed(0)}%`;
    const faults = row.faults?.length ? ` (**${row.faults.length} of ${row.runs.length} runs: ${[...new Set(row.faults)].join('; ')}**)` : '';
    lines.push(`| ${row.tool} | ${row.caseName}${faults} | ${row.wallSeconds.toFixed(2)} | ${row.minWallSeconds.toFixed(2)} | ${row.cpuSeconds.toFixed(2)} | `
      + `${(row.peakRssBytes / MiB).toFixed(0)} | ${pressure} | ${ratioCell(row, byKey, rows)} |`);
  }
  return lines.join('\n');
}

/** A speed target: the row's median wall time over its anchor's (or another row's, such as a floor) at most maxRatio. */
export function ratioTarget(rows, key, maxRatio, issue, anchorKey = undefined) {
  const byKey = byKeyOf(rows);
  const row = byKey.get(key);
  const anchor = byKey.get(anchorKey ?? row.anchor);
  const ratio = row.wallSeconds / anchor.wallSeconds;
  return { label: `${issue}: ${row.tool} ${row.caseName} <= ${maxRatio}x ${anchor.tool}`,
    measured: `${ratio.toFixed(2)}x${flagged(row)}${flagged(anchor)}`, met: ratio <= maxRatio && !flagged(row) && !flagged(anchor) };
}

/** "Under N s of work after start-up": the row's median wall time minus the median of a row
 * that only starts the same program (node, module loading, CLI parsing) and does nothing. */
export function workTarget(rows, key, startupKey, maxSeconds, issue) {
  const byKey = byKeyOf(rows);
  const row = byKey.get(key);
  const work = row.wallSeconds - byKey.get(startupKey).wallSeconds;
  return { label: `${issue}: ${row.tool} ${row.caseName}: work after start-up < ${maxSeconds} s`,
    measured: `${work.toFixed(2)} s (${row.wallSeconds.toFixed(2)} s wall)${flagged(row)}`, met: work < maxSeconds && !flagged(row) };
}

/** A memory ceiling over the given rows (their worst run). */
export function rssTarget(rows, maxRssBytes, issue, what, ceiling = `${maxRssBytes / MiB} MiB`) {
  const worst = rows.reduce((a, b) => (b.peakRssBytes > a.peakRssBytes ? b : a));
  return { label: `${issue}: peak RSS < ${ceiling} (${what})`,
    measured: `${(worst.peakRssBytes / MiB).toFixed(0)} MiB (${worst.caseName})`, met: worst.peakRssBytes < maxRssBytes };
}

export function targetsTable(targets) {
  return ['| target | measured | met |', '|---|---|---|',
    ...targets.map((t) => `| ${t.label} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`)].join('\n');
}

/** Replaces what lies between the bench markers, leaving the hand-written text around them alone. */
export function writeIntoDoc(docPath, block) {
  const doc = readFileSync(docPath, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${docPath} lacks the ${START} ... ${END} markers`);
  writeFileSync(docPath, `${doc.slice(0, start + START.length)}\n${block}\n${doc.slice(end)}`);
}
