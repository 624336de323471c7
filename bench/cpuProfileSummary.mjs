// Reads a V8 .cpuprofile (from `node --cpu-prof`) and lists the functions with the most self
// time: enough to point at a hot spot without opening DevTools. Work done on libuv's thread
// pool (zlib, fs) is not sampled; it shows up as "(idle)" on the main thread.
import { readFileSync } from 'node:fs';

function frameName({ functionName, url, lineNumber }) {
  const file = url ? url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|packages)\//, '$1/') : '';
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/** [{ name, selfMs, share }] for the top `limit` frames by self time. */
export function cpuProfileSummary(profilePath, limit = 15) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  const nameOf = new Map(profile.nodes.map((n) => [n.id, frameName(n.callFrame)]));
  const selfUs = new Map();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const name = nameOf.get(id);
    selfUs.set(name, (selfUs.get(name) ?? 0) + us);
    totalUs += us;
  });
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / totalUs }));
}

export function profileTable(summary) {
  return ['| self ms | share | function |', '|---:|---:|---|',
    ...summary.map((s) => `| ${s.selfMs.toFixed(0)} | ${(s.share * 100).toFixed(1)}% | \`${s.name}\` |`)].join('\n');
}
