import nodemailer from 'nodemailer';
import { VERSION } from '../core/version.js';
import type { Channel } from '../store/notify-store.js';
import { emailMessage, type Notice, slackBody, webhookBody } from './payloads.js';
import {
  HEADER_ATTEMPT,
  HEADER_DELIVERY,
  HEADER_EVENT,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  signature,
} from './signature.js';

/** Why a send failed; `retryable` says whether trying again later can help. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code = 'NOTIFY_SEND_FAILED',
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface SendContext {
  /** Reads `channel/NAME/KEY` of the channel's team vault. */
  secret(key: string): Promise<string>;
  attempt: number;
  nowMs: number;
  timeoutMs: number;
}

/** Sends one notice through one channel; throws DeliveryError when it did not arrive. */
export async function send(channel: Channel, notice: Notice, ctx: SendContext): Promise<void> {
  const key = (name: string) => `channel/${channel.name}/${name}`;
  if (channel.type === 'webhook') {
    const body = webhookBody(notice);
    const ts = Math.floor(ctx.nowMs / 1000);
    const secret = await ctx.secret(key('secret'));
    await postJson(channel.config.url as string, body, ctx.timeoutMs, {
      [HEADER_DELIVERY]: notice.deliveryId,
      [HEADER_EVENT]: notice.alert.kind,
      [HEADER_ATTEMPT]: String(ctx.attempt),
      [HEADER_TIMESTAMP]: String(ts),
      [HEADER_SIGNATURE]: signature(secret, ts, body),
    });
    return;
  }
  if (channel.type === 'slack') {
    const url = await ctx.secret(key('url'));
    if (!/^https?:\/\//i.test(url)) {
      throw new DeliveryError(`vault key ${key('url')} does not hold an http(s) URL`, false);
    }
    await postJson(url, slackBody(notice), ctx.timeoutMs, {});
    return;
  }
  await sendMail(channel, notice, ctx, key);
}

/** POSTs JSON; 2xx is success, 408/425/429/5xx and network errors may pass later, anything else will not. */
async function postJson(url: string, body: string, timeoutMs: number, headers: Record<string, string>) {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'content-type': 'application/json', 'user-agent': `rediacc/${VERSION}`, ...headers },
    });
  } catch (err) {
    throw networkError(err, timeoutMs);
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const what = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
  throw new DeliveryError(
    `HTTP ${res.status} from the receiver${what}${snippet === '' ? '' : `: ${snippet}`}`,
    retryable,
  );
}

function networkError(err: unknown, timeoutMs: number): DeliveryError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return new DeliveryError(`no answer within ${Math.round(timeoutMs / 1000)} s`, true);
  const code = e.cause?.code ?? e.cause?.message ?? e.message ?? 'unknown error';
  return new DeliveryError(`could not reach the receiver (${code})`, true);
}

async function sendMail(channel: Channel, notice: Notice, ctx: SendContext, key: (n: string) => string) {
  const smtp = channel.config.smtp;
  if (smtp === undefined || channel.config.from === undefined || channel.config.to === undefined) {
    throw new DeliveryError('the email channel has no SMTP settings', false);
  }
  const pass = smtp.user === null ? null : await ctx.secret(key('password'));
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'tls',
    requireTLS: smtp.tls === 'starttls',
    ignoreTLS: smtp.tls === 'none',
    ...(smtp.user === null ? {} : { auth: { user: smtp.user, pass: pass as string } }),
    connectionTimeout: ctx.timeoutMs,
    greetingTimeout: ctx.timeoutMs,
    socketTimeout: ctx.timeoutMs,
  });
  const { subject, text } = emailMessage(notice);
  try {
    await transport.sendMail({
      from: channel.config.from,
      to: channel.config.to,
      subject,
      text,
      messageId: `<${notice.deliveryId}@rediacc>`,
      headers: { [HEADER_DELIVERY]: notice.deliveryId, [HEADER_EVENT]: notice.alert.kind },
    });
  } catch (err) {
    throw mailError(err);
  } finally {
    transport.close();
  }
}

/** SMTP 4xx answers and connection trouble may pass later; 5xx answers and a refused login will not. */
function mailError(err: unknown): DeliveryError {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  const code = e.responseCode;
  if (code !== undefined) {
    return new DeliveryError(
      `SMTP ${code}: ${(e.response ?? e.message ?? '').slice(0, 200)}`,
      code >= 400 && code < 500,
    );
  }
  const permanent = e.code === 'EAUTH' || e.code === 'EENVELOPE' || e.code === 'EMESSAGE';
  return new DeliveryError(`SMTP ${e.code ?? 'error'}: ${(e.message ?? '').slice(0, 200)}`, !permanent);
}
