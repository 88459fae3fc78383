import { expect } from 'vitest';
import { ADMIN_TOKEN } from './server.js';

/** Checks `{"error":{"code","message"[,"field"]}}` and nothing else; returns the error. */
export function expectErrorBody(
  res: { status: number; body: unknown },
  status: number,
  code: string,
  field?: string,
): { code: string; message: string; field?: string } {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toBeTypeOf('object');
  const body = res.body as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as { code: string; message: string; field?: string };
  expect(Object.keys(error).every((k) => k === 'code' || k === 'message' || k === 'field')).toBe(true);
  expect(error.code).toBe(code);
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

/** A raw request: any body text, any headers. Returns status and the parsed body (or the text). */
export async function rawRequest(
  url: string,
  method: string,
  path: string,
  options: { body?: string; contentType?: string | null; authorization?: string | null } = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const headers: Record<string, string> = {};
  const auth = options.authorization === undefined ? `Bearer ${ADMIN_TOKEN}` : options.authorization;
  if (auth !== null) headers.authorization = auth;
  const ct = options.contentType === undefined ? 'application/json' : options.contentType;
  if (ct !== null && options.body !== undefined) headers['content-type'] = ct;
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, text };
}
