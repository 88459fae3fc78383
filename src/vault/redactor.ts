export const REDACTED = '***';

/**
 * Replaces secret values in a stream of text with `***`. A value split across
 * two pieces is still caught: only the end of the text that could begin a
 * secret is held back until more text (or the end) arrives.
 */
export class Redactor {
  private held = '';
  private readonly secrets: string[];

  constructor(values: readonly string[]) {
    // Longest first, so a value containing another is replaced whole.
    this.secrets = [...new Set(values.filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  write(text: string): string {
    if (this.secrets.length === 0) return text;
    const all = this.replace(this.held + text);
    const keep = this.possibleStart(all);
    this.held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  end(): string {
    const rest = this.replace(this.held);
    this.held = '';
    return rest;
  }

  private replace(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out;
  }

  /** Length of the longest end of `text` that is the beginning of a secret. */
  private possibleStart(text: string): number {
    const longest = Math.min(text.length, (this.secrets[0]?.length ?? 1) - 1);
    for (let k = longest; k > 0; k -= 1) {
      const tail = text.slice(text.length - k);
      if (this.secrets.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }
}
