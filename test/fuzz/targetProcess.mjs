/**
 * The child process a campaign feeds inputs to, one at a time: it runs the
 * target and answers with the finding, if any. The campaign kills it when an
 * input overruns its time budget, so a hang never stops the run.
 */
import { Finding, TARGETS } from './targets.mjs';

const target = TARGETS[process.env.FUZZ_TARGET];
const workDir = process.env.FUZZ_WORK_DIR;
if (!target || !workDir) throw new Error('targetProcess.mjs needs FUZZ_TARGET and FUZZ_WORK_DIR');
const options = { workDir, skip: new Set((process.env.FUZZ_SKIP ?? '').split(',').filter(Boolean)) };

process.on('message', async ({ id, input }) => {
  const data = Buffer.from(input);
  let finding;
  try {
    await target(data, options);
  } catch (error) {
    // targets judge every error themselves; what reaches here is a Finding, or a fault of the harness.
    finding = error instanceof Finding ? { kind: error.kind, message: error.message } : { kind: 'harness', message: String(error?.stack ?? error) };
  }
  process.send({ id, finding });
});
process.send({ ready: true });
