import { describe, expect, it } from 'vitest';
import { checkChannelInput } from '../src/notify/channel-input.js';
import { observeLevels } from '../src/notify/conditions.js';
import { afterFailure } from '../src/notify/retry.js';
import { DEFAULT_RULES, isMuted, mergeRules, parseRules } from '../src/notify/rules.js';
import { resolveNotifySettings } from '../src/notify/settings.js';
import { signature, verifySignature } from '../src/notify/signature.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

describe('alert rules', () => {
  it('are all on by default; stored settings merge over the defaults', () => {
    expect(parseRules(null)).toEqual(DEFAULT_RULES);
    expect(parseRules('{"taskWait":false,"queueThreshold":5}')).toMatchObject({
      taskWait: false,
      queueThreshold: 5,
      taskFailed: true,
      waitThresholdMinutes: 30,
    });
    expect(parseRules('not json')).toEqual(DEFAULT_RULES);
  });

  it('mute only the kinds of a rule that is off; unknown kinds always go out', () => {
    const off = JSON.stringify({ machineOffline: false });
    expect(isMuted('machine_offline', off)).toBe(true);
    expect(isMuted('machine_online', off)).toBe(true);
    expect(isMuted('task_failed', off)).toBe(false);
    expect(isMuted('something_new', off)).toBe(false);
    expect(isMuted('task_failed', null)).toBe(false);
  });

  it('a change is checked field by field; null removes a priority threshold', () => {
    const r = mergeRules(DEFAULT_RULES, { priorityThresholds: { 1: 5, 2: 50 } });
    expect(r.priorityThresholds).toEqual({ 1: 5, 2: 50 });
    expect(mergeRules(r, { priorityThresholds: { 2: null } }).priorityThresholds).toEqual({ 1: 5 });
    expect(DEFAULT_RULES.priorityThresholds).toEqual({});
    for (const bad of [
      { queueThreshold: 0 },
      { queueThreshold: 1.5 },
      { queueMinutes: -1 },
      { taskFailed: 'yes' },
      { priorityThresholds: { 6: 1 } },
      { priorityThresholds: [] },
      { nonsense: 1 },
    ]) {
      expect(() => mergeRules(DEFAULT_RULES, bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
  });
});

describe('threshold observations', () => {
  const rules = { ...DEFAULT_RULES, queueThreshold: 10, queueMinutes: 5, waitThresholdMinutes: 30 };
  const levels = {
    pending: [
      { team: 'a', priority: 1, pending: 4 },
      { team: 'a', priority: 3, pending: 7 },
      { team: 'b', priority: 3, pending: 10 },
    ],
    oldest: [{ team: 'a', taskId: 'task-1', machine: 'm1', queuedAt: T0 - 31 * MIN }],
  };

  it('the team total above its threshold is breached (at the threshold is not); waiting past the limit too', () => {
    const obs = observeLevels(
      [
        { team: 'a', rules: { ...rules, priorityThresholds: { 1: 3 } } },
        { team: 'b', rules },
      ],
      levels,
      T0,
    );
    const state = (team: string, key: string) => obs.find((o) => o.team === team && o.key === key)?.state;
    expect(state('a', 'queue')).toBe('breached');
    expect(state('b', 'queue')).toBe('clear');
    expect(state('a', 'queue:p1')).toBe('breached');
    expect(state('a', 'queue:p3')).toBe('off');
    expect(state('a', 'wait')).toBe('breached');
    expect(state('b', 'wait')).toBe('clear');
    const wait = obs.find((o) => o.team === 'a' && o.key === 'wait');
    expect(wait).toMatchObject({
      holdMs: 0,
      fire: { kind: 'task_wait_high', taskId: 'task-1', machine: 'm1' },
    });
    expect(wait?.fire.message).toBe('team a: task task-1 on m1 has waited 31 min, longer than 30 min');
    expect(obs.find((o) => o.team === 'a' && o.key === 'queue')).toMatchObject({
      holdMs: 5 * MIN,
      fire: { kind: 'queue_high', message: 'team a: 11 tasks pending, above the threshold of 10 for 5 min' },
    });
  });

  it('a rule turned off observes off, so its state is forgotten without a notice', () => {
    const obs = observeLevels(
      [{ team: 'a', rules: { ...rules, queueLength: false, taskWait: false } }],
      levels,
      T0,
    );
    expect(obs.every((o) => o.state === 'off')).toBe(true);
  });
});

describe('delivery retries', () => {
  it('retry with a growing delay; give up on a permanent error or when the next try is past the expiry', () => {
    const d = { attempt: 1, expiresAt: T0 + 60 * MIN };
    expect(afterFailure(d, { message: 'HTTP 500', retryable: true }, T0, 10, () => 0)).toEqual({
      status: 'retrying',
      nextAt: T0 + 10_000,
      error: 'HTTP 500',
    });
    expect(
      afterFailure({ ...d, attempt: 3 }, { message: 'x', retryable: true }, T0, 10, () => 0),
    ).toMatchObject({
      nextAt: T0 + 40_000,
    });
    expect(afterFailure(d, { message: 'HTTP 404', retryable: false }, T0, 10)).toEqual({
      status: 'failed',
      error: 'HTTP 404',
    });
    expect(
      afterFailure({ ...d, attempt: 10 }, { message: 'HTTP 503', retryable: true }, T0, 10, () => 0),
    ).toEqual({
      status: 'failed',
      error: 'gave up after 10 attempts (expires before the next): HTTP 503',
    });
  });
});

describe('webhook signatures', () => {
  it('cover timestamp and body; a stale timestamp fails the replay window', () => {
    const body = '{"a":1}';
    const sig = signature('s3cret', 1000, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    const ok = { timestamp: '1000', signature: sig };
    expect(verifySignature('s3cret', ok, body, 1000)).toBe(true);
    expect(verifySignature('s3cret', ok, body, 1000 + 300)).toBe(true);
    expect(verifySignature('s3cret', ok, body, 1000 + 301)).toBe(false);
    expect(verifySignature('s3cret', { ...ok, timestamp: '1001' }, body, 1000)).toBe(false);
    expect(verifySignature('other', ok, body, 1000)).toBe(false);
    expect(verifySignature('s3cret', ok, '{"a":2}', 1000)).toBe(false);
    expect(verifySignature('s3cret', { timestamp: undefined, signature: sig }, body, 1000)).toBe(false);
  });
});

describe('channel input', () => {
  it('keeps nothing secret in the channel and asks for the right vault values', () => {
    expect(
      checkChannelInput({
        name: 'h',
        type: 'webhook',
        url: 'https://example.com/x',
        secretNames: ['secret'],
      }),
    ).toEqual({ type: 'webhook', config: { url: 'https://example.com/x' } });
    expect(checkChannelInput({ name: 's', type: 'slack', secretNames: ['url'] })).toEqual({
      type: 'slack',
      config: {},
    });
    expect(
      checkChannelInput({
        name: 'm',
        type: 'email',
        smtp: { host: 'mail.example.com', port: 465, tls: 'tls' },
        from: 'a@example.com',
        to: ['b@example.com'],
        secretNames: [],
      }).config,
    ).toEqual({
      smtp: { host: 'mail.example.com', port: 465, tls: 'tls', user: null },
      from: 'a@example.com',
      to: ['b@example.com'],
    });
    const bad = (input: Parameters<typeof checkChannelInput>[0], field: string) =>
      expect(() => checkChannelInput(input)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED', field }),
      );
    bad({ name: 'a..b', type: 'webhook', url: 'http://h/', secretNames: ['secret'] }, 'name');
    bad({ name: 's', type: 'slack', url: 'https://hooks.slack.com/x', secretNames: ['url'] }, 'url');
    bad({ name: 'h', type: 'webhook', url: 'javascript:alert(1)', secretNames: ['secret'] }, 'url');
    bad(
      {
        name: 'm',
        type: 'email',
        smtp: { host: 'h', port: 25, tls: 'none', user: 'u' },
        from: 'a@b.c',
        to: ['x@y.z'],
        secretNames: [],
      },
      'secrets',
    );
    bad(
      {
        name: 'm',
        type: 'email',
        smtp: { host: 'bad host', port: 25, tls: 'none' },
        from: 'a@b.c',
        to: ['x@y.z'],
        secretNames: [],
      },
      'smtp.host',
    );
  });
});

describe('notify settings', () => {
  it('defaults, then the environment, then the caller; nonsense fails loudly', () => {
    expect(resolveNotifySettings({}, {}).expiryMs).toBe(24 * 60 * MIN);
    const s = resolveNotifySettings(
      { batchSize: 5 },
      { REDIACC_NOTIFY_EXPIRY_HOURS: '2', REDIACC_NOTIFY_LEASE_SECONDS: '4' },
    );
    expect(s).toMatchObject({ expiryMs: 2 * 60 * MIN, leaseMs: 4000, sendTimeoutMs: 2000, batchSize: 5 });
    expect(() => resolveNotifySettings({}, { REDIACC_NOTIFY_POLL_MS: 'fast' })).toThrow(
      /REDIACC_NOTIFY_POLL_MS/,
    );
  });
});
