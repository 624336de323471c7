import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { formatBytes } from './humanBytes.js';
import type { CiEvaluation } from './rules.js';

/** dive's label column (lipgloss Width(18)). */
const label = (key: string) => `  ${`${key}:`.padEnd(18)} `;

function analysisSection(a: ImageAnalysis): string {
  const wasted = a.wastedBytes > 0 ? `(${formatBytes(a.wastedBytes)})` : '';
  const userWasted = a.wastedBytes > 0 ? `${(a.userWastedPercent * 100).toFixed(2)} %` : '0 %';
  return [
    'Analysis:',
    `${label('efficiency')}${(a.efficiencyScore * 100).toFixed(2)} %`,
    `${label('wastedBytes')}${a.wastedBytes} bytes ${wasted}`,
    `${label('userWastedPercent')}${userWasted}`,
  ].join('\n');
}

function inefficientFilesSection(a: ImageAnalysis): string {
  if (a.inefficientFiles.length === 0) return 'Inefficient Files: (None)';
  const row = (count: string, size: string, path: string) => `  ${count.padEnd(5)}  ${size.padEnd(12)}  ${path}`;
  return ['Inefficient Files:', row('Count', 'Wasted Space', 'File Path'), ...a.inefficientFiles.map((f) => row(String(f.count), formatBytes(f.sizeBytes), f.path))].join('\n');
}

function evaluationSection(e: CiEvaluation): string {
  const lines = e.results.map((r) => `  ${r.status}  ${r.key} (${r.message})`);
  const tally = (['PASS', 'FAIL', 'SKIP'] as const)
    .map((status) => [status.toLowerCase(), e.results.filter((r) => r.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name}:${n}`);
  return ['Evaluation:', ...lines, '', `${e.pass ? 'PASS' : 'FAIL'} [${tally.join(' ')}]`].join('\n');
}

/** The `--ci` report in dive's sections and wording (cmd/dive/cli/internal/command/ci/evaluator.go). */
export function formatCiReport(analysis: ImageAnalysis, evaluation: CiEvaluation): string {
  return [analysisSection(analysis), inefficientFilesSection(analysis), evaluationSection(evaluation)].join('\n\n') + '\n';
}
