import { describe, expect, it } from 'vitest';
import { tsbuild } from '../helpers/tsbuildCli.js';

/**
 * Top-level help lists every command from a table (so that listing them loads none of their
 * modules, #14); each command's own help comes from its module. The two must agree.
 */

interface ListedCommand {
  /** As help shows it: `name|alias [options] <arguments>`. */
  term: string;
  summary: string;
}

/** The Commands section of top-level help, without commander's own `help`. */
function listedCommands(help: string): ListedCommand[] {
  const section = help.slice(help.indexOf('\nCommands:\n') + '\nCommands:\n'.length);
  return section.split('\n').filter((line) => line.startsWith('  ')).map((line) => {
    const [, term, summary] = /^ {2}(\S.*?) {2,}(\S.*)$/.exec(line)!;
    return { term: term!, summary: summary! };
  }).filter(({ term }) => term !== 'help [command]');
}

/**
 * A command's own help, as a listing shows it: its names and arguments from the usage line
 * (`[command]` left out), `[options]` when it has options besides --help, and its description, unwrapped.
 */
function ownHelp(help: string): ListedCommand {
  const [usage, description] = help.split('\n\n');
  const [names, ...words] = usage!.replace(/^Usage: tsbuild /, '').split(' ').filter((w) => w !== '[options]' && w !== '[command]');
  const options = help.slice(help.indexOf('\nOptions:\n')).split('\n').filter((line) => /^ {2}-/.test(line) && !line.startsWith('  -h, --help'));
  return { term: [names, ...(options.length ? ['[options]'] : []), ...words].join(' '), summary: description!.split('\n').join(' ') };
}

const topLevel = await tsbuild(['--help']);
const listed = listedCommands(topLevel.stdout);

describe('every command top-level help lists', () => {
  it('is there, the lifecycle commands and the default build among them', () => {
    expect(topLevel.code).toBe(0);
    expect(listed.map((c) => c.term.split(/[| ]/)[0])).toEqual(expect.arrayContaining(['build', 'images', 'run', 'ps', 'rm', 'manifest']));
  });

  for (const { term, summary } of listed) {
    const [names] = term.split(' ');
    for (const name of names!.split('|')) {
      it.concurrent(`runs as \`tsbuild ${name} --help\`, with the usage and summary the listing shows`, async () => {
        const own = await tsbuild([name, '--help']);
        expect(own.code).toBe(0);
        expect(ownHelp(own.stdout)).toEqual({ term, summary });
      });
    }
  }
});
