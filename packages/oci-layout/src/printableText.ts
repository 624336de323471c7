/**
 * Text from outside (a registry's answer, a document's field) made fit for a one-line message:
 * control characters (newlines, terminal escape sequences) are shown as \uXXXX escapes.
 */
export function printableText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
