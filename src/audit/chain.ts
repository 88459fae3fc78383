import { createHash } from 'node:crypto';
import type { AuditEntry, AuditRecord } from '../store/store.js';

/** The hash the first record links to. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * A record's hash: SHA-256 over the previous hash and the record's fields in a
 * fixed order, so editing, inserting or deleting any row breaks the chain.
 */
export function hashRecord(prevHash: string, id: number, e: AuditEntry): string {
  const canonical = JSON.stringify([
    prevHash,
    id,
    e.at,
    e.actor,
    e.action,
    e.target,
    e.team,
    e.source,
    e.outcome,
    sortKeys(e.details),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export type ChainCheck =
  | { ok: true; checked: number; lastHash: string }
  | { ok: false; checked: number; brokenAt: number; problem: string };

/** Checks records in id order, continuing from `prev` (the state after the previous page). */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private prevId = 0;
  private checked = 0;
  private failure: { brokenAt: number; problem: string } | null = null;

  feed(records: readonly AuditRecord[]): boolean {
    for (const r of records) {
      if (this.failure !== null) return false;
      if (r.id !== this.prevId + 1) {
        this.failure = { brokenAt: r.id, problem: `record ${this.prevId + 1} is missing (next is ${r.id})` };
      } else if (r.prevHash !== this.prevHash) {
        this.failure = { brokenAt: r.id, problem: `record ${r.id} does not link to record ${this.prevId}` };
      } else if (hashRecord(r.prevHash, r.id, r) !== r.hash) {
        this.failure = { brokenAt: r.id, problem: `record ${r.id} was changed after it was written` };
      } else {
        this.prevHash = r.hash;
        this.prevId = r.id;
        this.checked += 1;
      }
    }
    return this.failure === null;
  }

  result(): ChainCheck {
    return this.failure === null
      ? { ok: true, checked: this.checked, lastHash: this.prevHash }
      : { ok: false, checked: this.checked, ...this.failure };
  }
}
