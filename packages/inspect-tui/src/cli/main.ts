import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, CommanderError, Option } from 'commander';
import type { awaitedElsewhere } from '@tsbuild/oci-layout';
import type { CiRule, RuleKey } from '../ci/rules.js';
import { EXIT_ERROR, EXIT_OK, EXIT_RULE_FAILED } from '../tsdiveExitCodes.js';
import type { TsdiveErrorKind } from '../tsdiveError.js';
import { buildProgram, buildWithTsbuild, type BuildOptions } from './buildCommand.js';
import { diffProgram, runDiff, type DiffOptions } from './diffCommand.js';

interface CliOptions {
  ci?: boolean;
  ciConfig?: string;
  json?: string;
  source?: string;
  root?: string;
  lowestEfficiency?: string;
  highestWastedBytes?: string;
  highestUserWastedPercent?: string;
}

/** dive's reading of the CI variable. */
const truthy = (value: string | undefined) => value === 'true' || value === '1' || value === 'yes';

function program(): Command {
  return new Command('tsdive')
    .description('Explore an image layer by layer and find wasted space (dive without a daemon)')
    .argument('<image>', 'docker-archive:FILE[:REF], oci:DIR[:REF], oci-archive:FILE[:REF], docker://REF (pulled into the store), or a local store name')
    .option('--ci', 'skip the interactive view and check the CI rules (same as CI=true)')
    .option('--ci-config <file>', 'CI rules file (.toml, or dive\'s YAML .dive-ci); default .tsdive-ci.toml, else .dive-ci')
    .option('--json <file>', 'write the analysis as dive\'s JSON to FILE ("-" for stdout)')
    .addOption(new Option('--source <source>', 'where an IMAGE without transport prefix lives').choices(['store', 'docker-archive', 'oci', 'docker', 'podman']))
    .option('--root <dir>', 'local store root (default $TSBUILD_ROOT, else ~/.local/share/tsbuild)')
    .option('--lowestEfficiency <ratio>', '(with --ci) lowest allowed efficiency, 0-1')
    .option('--highestWastedBytes <size>', '(with --ci) highest allowed wasted bytes, e.g. 20MB, or "disabled"')
    .option('--highestUserWastedPercent <ratio>', '(with --ci) highest allowed wasted/user bytes ratio, 0-1')
    .addHelpText('after', '\nMore commands:\n  tsdive diff IMAGE_A IMAGE_B      what changed between two images (tsdive diff --help)\n  tsdive build -t NAME CONTEXT     build with tsbuild, then explore (tsdive build --help)\n')
    .exitOverride()
    .showSuggestionAfterError();
}

type Subcommand = 'explore' | 'diff' | 'build';

/** `diff` and `build` are subcommands; anything else is an image (a store image named so is `store:diff`). */
function subcommandOf(argv: string[]): Subcommand {
  return argv[2] === 'diff' || argv[2] === 'build' ? argv[2] : 'explore';
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (e) => (e ? reject(e) : resolve())));
}

/** As in dive, CI=true does not turn a JSON export into a rule check; --ci with --json does both. */
const ciMode = (opts: CliOptions) => opts.ci === true || (truthy(process.env.CI) && opts.json === undefined);
const interactiveMode = (opts: CliOptions) => !ciMode(opts) && opts.json === undefined;

/** TsdiveError brings oci-layout (its base class): loaded when one is thrown, so that `--help` and usage errors load none of it (#14). */
async function tsdiveError(kind: TsdiveErrorKind, message: string): Promise<Error> {
  const { TsdiveError } = await import('../tsdiveError.js');
  return new TsdiveError(kind, message);
}

async function requireTerminal(opts: CliOptions): Promise<void> {
  if (interactiveMode(opts) && !(process.stdin.isTTY && process.stdout.isTTY)) throw await tsdiveError('needs-terminal', 'the explorer needs a terminal; use --ci or --json FILE when there is none');
}

/**
 * ink and react load only for the explorer (--ci and --json never pay for them), while the
 * image is read, and in react's production build: its development build checks every
 * render and makes each frame several times slower.
 */
function loadExplorer(awaitedLater: typeof awaitedElsewhere): Promise<typeof import('../tui/runExplorer.js')> {
  process.env.NODE_ENV ??= 'production';
  // Should the analysis fail first, its error is the one to report; this one is awaited after it.
  return awaitedLater(import('../tui/runExplorer.js'));
}

/**
 * What reading and reporting an image takes, loaded when an image is to be read: `tsdive
 * --help` and usage errors start as fast as node itself, with none of oci-layout (#14).
 */
async function loadAnalysis() {
  const [analysis, ciConfig, ciReport, rules, diveJson, progress, imageSource, { awaitedElsewhere }] = await Promise.all([
    import('../analysis/analyzeImage.js'), import('../ci/config.js'), import('../ci/ciReport.js'), import('../ci/rules.js'),
    import('../report/diveJson.js'), import('../tui/analysisProgress.js'), import('./imageSource.js'), import('@tsbuild/oci-layout'),
  ]);
  return { ...analysis, ...ciConfig, ...ciReport, ...rules, ...diveJson, ...progress, ...imageSource, awaitedElsewhere };
}

async function run(imageRef: string, opts: CliOptions): Promise<number> {
  const { analyzeImage, loadCiConfig, formatCiReport, compileRules, evaluateRules, diveExportPieces, analyzeInBackground, openImageSource, awaitedElsewhere } = await loadAnalysis();
  const ci = ciMode(opts);
  const interactive = interactiveMode(opts);
  await requireTerminal(opts);
  let rules: CiRule[] | undefined;
  if (ci) {
    const flags: Partial<Record<RuleKey, string>> = {};
    for (const key of ['lowestEfficiency', 'highestWastedBytes', 'highestUserWastedPercent'] as const) {
      if (opts[key] !== undefined) flags[key] = opts[key];
    }
    const config = await loadCiConfig({ ...(opts.ciConfig !== undefined && { configPath: opts.ciConfig }), cwd: process.cwd(), flags });
    rules = compileRules(config.settings);
  }
  const source = await openImageSource(imageRef, opts);
  // A big image takes a while to read; say what is happening until the explorer takes the screen.
  let explorer: Promise<typeof import('../tui/runExplorer.js')> | undefined;
  if (interactive) {
    if (source.image.layers.length === 0) throw await tsdiveError('no-layers', `${imageRef} has no layers: there is nothing to explore`);
    process.stderr.write(`tsdive: reading the ${source.image.layers.length} layers of ${imageRef}…\n`);
    explorer = loadExplorer(awaitedElsewhere);
  }
  const analyzeOptions = source.layerIds ? { layerIds: source.layerIds } : {};
  if (explorer) {
    // The explorer shows the first layer while the others are analysed.
    const analysing = analyzeInBackground(source.image, analyzeOptions);
    await analysing.firstLayer;
    const { runExplorer } = await explorer;
    return runExplorer(analysing, source.image);
  }
  const analysis = await analyzeImage(source.image, analyzeOptions);
  if (opts.json !== undefined) {
    // Streamed: a big image's document is tens of megabytes.
    const document = Readable.from(diveExportPieces(analysis));
    if (opts.json === '-') await pipeline(document, process.stdout, { end: false });
    else await pipeline(document, createWriteStream(opts.json));
  }
  if (!rules) return EXIT_OK;
  const evaluation = evaluateRules(rules, analysis);
  // With the JSON on stdout, the report goes to stderr so stdout stays parseable.
  await write(opts.json === '-' ? process.stderr : process.stdout, formatCiReport(analysis, evaluation));
  return evaluation.pass ? EXIT_OK : EXIT_RULE_FAILED;
}

/** The `tsdive` command. Resolves to the exit code; errors become one line on stderr, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const subcommand = subcommandOf(argv);
  const cmd = subcommand === 'diff' ? diffProgram() : subcommand === 'build' ? buildProgram() : program();
  try {
    await cmd.parseAsync(subcommand === 'explore' ? argv : [argv[0]!, argv[1]!, ...argv.slice(3)]);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_ERROR;
    throw e;
  }
  // A reader that went away (`tsdive --json - IMAGE | head`) is not worth a crash; the write fails and we stop.
  const ignorePipeErrors = () => {};
  process.stdout.on('error', ignorePipeErrors);
  try {
    switch (subcommand) {
      case 'diff':
        await write(process.stdout, await runDiff(cmd.args, cmd.opts<DiffOptions>()));
        return EXIT_OK;
      case 'build': {
        const opts = cmd.opts<BuildOptions>();
        // Say so before building, not after, when there is no terminal to explore in.
        await requireTerminal(opts);
        await buildWithTsbuild(cmd.args, opts);
        const { tag: _tags, ...exploreOptions } = opts;
        return await run(opts.tag[0]!, exploreOptions);
      }
      case 'explore':
        return await run(cmd.args[0]!, cmd.opts<CliOptions>());
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return EXIT_ERROR;
    process.stderr.write(`tsdive: ${oneLine(e)}\n`);
    if (process.env.TSDIVE_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    // Only tsdive's own: the other packages' ToolErrors carry docker's and skopeo's codes (1, 125), and a 1 here means a failed CI rule.
    // Loaded on the way out, as where it is thrown (#14): any TsdiveError was created by a module that loaded it already.
    const { TsdiveError } = await import('../tsdiveError.js');
    return e instanceof TsdiveError ? e.exitCode : EXIT_ERROR;
  } finally {
    process.stdout.off('error', ignorePipeErrors);
  }
}
