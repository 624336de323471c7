/**
 * Go's filepath.Match for one path component, which is what Docker uses for
 * COPY/ADD sources: `*` and `?` never cross `/`, `[...]` classes (with `^` or
 * `!` negation and ranges), `\` escapes the next character.
 */
export function componentMatcher(pattern: string): (name: string) => boolean {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      source += escapeRegex(pattern[++i]!);
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`bad pattern "${pattern}": unterminated [`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^') || body.startsWith('!');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else {
      source += escapeRegex(c);
    }
  }
  const re = new RegExp(`${source}$`, 's');
  return (name) => re.test(name);
}

export function hasGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./g, ''));
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
