import { spawn } from 'node:child_process';
import { TSBUILD_BIN } from './tsbuildCli.js';

/**
 * Runs tsbuild on a pseudo-terminal (`script`), typing each answer once its
 * prompt has appeared. Returns the exit code and everything the terminal showed.
 */
export async function tsbuildOnTerminal(args: string[], env: NodeJS.ProcessEnv, answers: { prompt: string; answer: string }[]): Promise<{ code: number | null; output: string }> {
  const cmd = [process.execPath, TSBUILD_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env } });
  let output = '';
  let next = 0;
  let searchFrom = 0;
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    const pending = answers[next];
    if (!pending) return;
    const at = output.indexOf(pending.prompt, searchFrom);
    if (at < 0) return;
    searchFrom = at + pending.prompt.length;
    next++;
    child.stdin.write(`${pending.answer}\r`);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, output };
}
