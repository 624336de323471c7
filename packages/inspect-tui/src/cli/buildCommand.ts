import { Command } from 'commander';
import { runTsbuild } from './tsbuildProcess.js';

export interface BuildOptions {
  tag: string[];
  root?: string;
  ci?: boolean;
  ciConfig?: string;
  json?: string;
}

export function buildProgram(): Command {
  return new Command('tsdive build')
    .description('Build an image with tsbuild, then explore it (other options go to tsbuild build as they are)')
    .argument('<args...>', 'the build context, and any other `tsbuild build` options (-f FILE, --build-arg K=V, ...)')
    .requiredOption('-t, --tag <name>', 'name the image (repeatable); the first is opened', (v: string, all: string[] = []) => [...all, v])
    .option('--root <dir>', 'local store root, for the build and the explorer')
    .option('--ci', 'check the CI rules instead of opening the explorer')
    .option('--ci-config <file>', 'CI rules file')
    .option('--json <file>', 'write the analysis as dive\'s JSON to FILE ("-" for stdout)')
    .allowUnknownOption()
    .exitOverride();
}

/** Runs `tsbuild build`; its output goes to stderr so that stdout carries only tsdive's own (`--json -`). */
export async function buildWithTsbuild(args: string[], opts: BuildOptions): Promise<void> {
  const { code } = await runTsbuild([...(opts.root !== undefined ? ['--root', opts.root] : []), 'build', ...opts.tag.flatMap((t) => ['-t', t]), ...args]);
  if (code !== 0) {
    // Loaded here: it brings oci-layout, which declaring the command needs none of (#14).
    const { TsdiveError } = await import('../tsdiveError.js');
    throw new TsdiveError('build-failed', `tsbuild build failed (exit code ${code ?? 'signal'}); nothing to explore`);
  }
}
