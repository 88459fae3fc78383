/**
 * Text search in task output, the same on both stores: a substring, ASCII
 * letters in any case (like SQLite's lower()), every other character as is.
 * No wildcards: `%`, `_` and `*` are plain characters.
 */

/** Lower-cases A-Z only. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

export function matchesText(data: string, text: string): boolean {
  return text !== '' && asciiLower(data).includes(asciiLower(text));
}

export interface MatchLine {
  /** The line (cut around the first match when long). */
  text: string;
  /** Where the first match starts in `text`. */
  at: number;
}

/** The lines of `data` that hold `text`, at most `maxLines`, each at most `maxChars` long. */
export function matchingLines(data: string, text: string, maxLines = 5, maxChars = 240): MatchLine[] {
  const needle = asciiLower(text);
  const out: MatchLine[] = [];
  if (needle === '') return out;
  for (const raw of data.split(/\r?\n|\r/)) {
    const at = asciiLower(raw).indexOf(needle);
    if (at < 0) continue;
    if (raw.length <= maxChars) {
      out.push({ text: raw, at });
    } else {
      const start = Math.max(
        0,
        Math.min(at - Math.floor((maxChars - needle.length) / 2), raw.length - maxChars),
      );
      const cut = raw.slice(start, start + maxChars);
      out.push({
        text: `${start > 0 ? '…' : ''}${cut}${start + maxChars < raw.length ? '…' : ''}`,
        at: at - start + (start > 0 ? 1 : 0),
      });
    }
    if (out.length >= maxLines) break;
  }
  return out;
}
