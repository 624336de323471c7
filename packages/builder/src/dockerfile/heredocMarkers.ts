import type { Heredoc } from './instructions.js';
import { InstructionError } from './instructionError.js';
import { expandWords, ExpansionError } from './shellWords.js';

export const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/;

/** A word like `<<EOF`, `<<-"EOF"`; undefined when the word is not a heredoc marker. */
export function parseHeredocMarker(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return undefined;
  const none = () => undefined;
  let words: string[];
  let raw: string[];
  try {
    words = expandWords(m[3]!, none, '\\', { skipUnsetEnv: true });
    raw = expandWords(m[3]!, none, '\\', { skipUnsetEnv: true, rawQuotes: true });
  } catch (e) {
    if (e instanceof ExpansionError) throw new InstructionError(e.message);
    throw e;
  }
  if (words.length !== 1) return undefined;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: words[0]!, chomp: m[2] === '-', expand: quotes(words[0]!) === quotes(raw[0]!) };
}

export function heredocMarkers(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = expandWords(line, () => undefined, '\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch (e) {
    // A line the shell lexer cannot split (an open quote) holds no heredoc marker; the instruction's own parse says what is wrong.
    if (e instanceof ExpansionError) return [];
    throw e;
  }
  return words.map(parseHeredocMarker).filter((h): h is Omit<Heredoc, 'content'> => h !== undefined);
}

/** The heredoc body as the command sees it: `<<-` strips leading tabs. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
}
