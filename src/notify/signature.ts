import { createHmac, timingSafeEqual } from 'node:crypto';

/** Headers of a signed webhook request. */
export const HEADER_TIMESTAMP = 'X-Rediacc-Timestamp';
export const HEADER_SIGNATURE = 'X-Rediacc-Signature';
export const HEADER_DELIVERY = 'X-Rediacc-Delivery';
export const HEADER_EVENT = 'X-Rediacc-Event';
export const HEADER_ATTEMPT = 'X-Rediacc-Attempt';

/** Receivers should refuse a timestamp further than this from their clock (replays). */
export const REPLAY_WINDOW_SECONDS = 5 * 60;

/**
 * `sha256=` + hex HMAC-SHA256 over `timestamp + "." + body`, keyed with the
 * channel's secret. The timestamp (Unix seconds) is signed with the body, so
 * an old request replayed later fails the receiver's window check.
 */
export function signature(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `sha256=${mac}`;
}

/** What a receiver does: same signature (compared in constant time) and a fresh timestamp. */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowSeconds: number,
  windowSeconds = REPLAY_WINDOW_SECONDS,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > windowSeconds) return false;
  const want = Buffer.from(signature(secret, ts, body));
  const got = Buffer.from(headers.signature ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}
