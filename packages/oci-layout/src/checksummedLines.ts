import { nodeZlib } from './onDemandBuiltins.js';

/**
 * Lines of JSON that each carry their own CRC-32, for append-only files that
 * a crash may leave with a torn or half-written last line: such a line fails
 * its check and is skipped, never misread.
 */
function checksum(text: string): string {
  return nodeZlib().crc32(text).toString(16).padStart(8, '0');
}

/** One line (without its newline): CRC-32 of the JSON, a tab, the JSON. */
export function encodeChecksummedLine(value: unknown[]): string {
  const json = JSON.stringify(value);
  return `${checksum(json)}\t${json}`;
}

/** Lines as file text: each ended by a newline. */
export function checksummedLinesText(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function decodeLine(line: string): unknown[] | undefined {
  if (line.length < 10 || line[8] !== '\t') return undefined;
  const json = line.slice(9);
  if (checksum(json) !== line.slice(0, 8)) return undefined;
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value : undefined;
}

/** A line's value, or undefined for a line that fails its checksum or is not a JSON array (a torn write). */
export function parseChecksummedLine(line: string): unknown[] | undefined {
  try {
    return decodeLine(line);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}
