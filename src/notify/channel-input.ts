import { AppError } from '../core/errors.js';
import {
  CHANNEL_TYPES,
  type ChannelConfig,
  type ChannelType,
  channelSecretNames,
  SMTP_TLS_MODES,
  type SmtpTls,
} from '../store/notify-store.js';

/** A channel as a client describes it (the API body without the secrets' ciphertext). */
export interface ChannelInput {
  name: string;
  type: string;
  url?: string | undefined;
  smtp?: { host: string; port: number; tls: string; user?: string | null | undefined } | undefined;
  from?: string | undefined;
  to?: string[] | undefined;
  /** Names of the vault values sent along (`secret`, `url`, `password`). */
  secretNames: string[];
}

const EMAIL = /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$|^[^\s@<>()",;]+@localhost$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?|\[[0-9A-Fa-f:.]+\])$/;

const bad = (field: string, message: string) =>
  new AppError('VALIDATION_FAILED', `${field}: ${message}`, 400, { field });

/**
 * Checks a channel description and returns what is stored (nothing secret).
 * The CLI runs the same check before it writes anything, so bad input is
 * refused with nothing created on either side.
 */
export function checkChannelInput(input: ChannelInput): { type: ChannelType; config: ChannelConfig } {
  if (input.name.includes('..')) throw bad('name', 'must not contain ".."');
  if (!(CHANNEL_TYPES as readonly string[]).includes(input.type)) {
    throw bad('type', `unknown channel type '${input.type}'; use webhook, slack or email`);
  }
  const type = input.type as ChannelType;
  const config: ChannelConfig = {};
  const refuse = (field: string, present: unknown) => {
    if (present !== undefined) throw bad(field, `does not apply to a ${type} channel`);
  };
  if (type === 'webhook') {
    if (input.url === undefined) throw bad('url', 'a webhook channel needs --url (http:// or https://)');
    config.url = checkUrl(input.url);
    refuse('smtp', input.smtp);
    refuse('from', input.from);
    refuse('to', input.to);
  } else if (type === 'slack') {
    // Slack's incoming-webhook URL is itself the credential: it lives in the vault, not here.
    if (input.url !== undefined)
      throw bad(
        'url',
        'a Slack webhook URL is a secret: send it as the vault value "url", not in the channel',
      );
    refuse('smtp', input.smtp);
    refuse('from', input.from);
    refuse('to', input.to);
  } else {
    refuse('url', input.url);
    const smtp = input.smtp;
    if (smtp === undefined) throw bad('smtp', 'an email channel needs the SMTP host (--smtp-host)');
    if (!HOST.test(smtp.host)) throw bad('smtp.host', `'${smtp.host}' is not a host name or address`);
    if (!Number.isInteger(smtp.port) || smtp.port < 1 || smtp.port > 65_535)
      throw bad('smtp.port', 'must be a port from 1 to 65535');
    if (!(SMTP_TLS_MODES as readonly string[]).includes(smtp.tls))
      throw bad('smtp.tls', `must be none, starttls or tls (got '${smtp.tls}')`);
    if (input.from === undefined) throw bad('from', 'an email channel needs a sender address (--from)');
    if (!EMAIL.test(input.from)) throw bad('from', `'${input.from}' is not an email address`);
    if (input.to === undefined || input.to.length === 0)
      throw bad('to', 'an email channel needs at least one recipient (--to)');
    for (const [i, a] of input.to.entries()) {
      if (!EMAIL.test(a)) throw bad(`to[${i}]`, `'${a}' is not an email address`);
    }
    config.smtp = { host: smtp.host, port: smtp.port, tls: smtp.tls as SmtpTls, user: smtp.user ?? null };
    config.from = input.from;
    config.to = [...input.to];
  }
  const want = channelSecretNames(type, config);
  const got = [...input.secretNames].sort();
  for (const name of want) {
    if (!got.includes(name)) throw bad('secrets', missingSecret(type, name));
  }
  for (const name of got) {
    if (!want.includes(name)) throw bad('secrets', `a ${type} channel keeps no vault value '${name}'`);
  }
  if (new Set(got).size !== got.length) throw bad('secrets', 'each vault value at most once');
  return { type, config };
}

function missingSecret(type: ChannelType, name: string): string {
  if (type === 'webhook') return 'a webhook channel needs its signing secret (vault value "secret")';
  if (type === 'slack')
    return 'a Slack channel needs its incoming-webhook URL (vault value "url", --url on the CLI)';
  return `an email channel with an SMTP user needs its password (vault value "${name}")`;
}

/** An absolute http(s) URL without credentials in it. */
export function checkUrl(raw: string, field = 'url'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad(field, `'${raw}' is not a URL; use http:// or https://`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw bad(field, `must be an http:// or https:// URL (got ${u.protocol.replace(/:$/, '')}:)`);
  if (u.username !== '' || u.password !== '')
    throw bad(field, 'must not hold a user or password; receivers check the signature instead');
  return raw;
}
