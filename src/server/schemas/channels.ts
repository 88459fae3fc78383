import { Type } from 'typebox';
import { LIMITS } from '../../notify/rules.js';
import { IsoTime, Name, VaultVersion } from './common.js';

const Sealed = Type.String({
  minLength: 10,
  maxLength: 100_000,
  description: 'AES-256-GCM ciphertext made by the client for vault key channel/NAME/KEY',
});

export const ChannelParams = Type.Object({ name: Name, channel: Name });

export const CreateChannelBody = Type.Object(
  {
    name: Name,
    type: Type.String({ maxLength: 40, description: 'webhook, slack or email' }),
    url: Type.Optional(
      Type.String({ maxLength: 2000, description: 'webhook: http(s) URL the JSON goes to' }),
    ),
    smtp: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, maxLength: 253 }),
          port: Type.Integer({ minimum: 1, maximum: 65_535 }),
          tls: Type.String({ maxLength: 20, description: 'none, starttls or tls' }),
          user: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 254 }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
    from: Type.Optional(Type.String({ maxLength: 254 })),
    to: Type.Optional(Type.Array(Type.String({ maxLength: 254 }), { minItems: 1, maxItems: 50 })),
    secrets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String({
              maxLength: 40,
              description: 'secret (webhook), url (slack), password (email)',
            }),
            ciphertext: Sealed,
            expectedVersion: VaultVersion,
          },
          { additionalProperties: false },
        ),
        { maxItems: 3 },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ChannelOut = Type.Object({
  team: Type.String(),
  name: Type.String(),
  type: Type.String(),
  url: Type.Union([Type.String(), Type.Null()]),
  smtp: Type.Union([
    Type.Object({
      host: Type.String(),
      port: Type.Integer(),
      tls: Type.String(),
      user: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  from: Type.Union([Type.String(), Type.Null()]),
  to: Type.Union([Type.Array(Type.String()), Type.Null()]),
  secretKeys: Type.Array(Type.String()),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: IsoTime,
});

export const TestOut = Type.Object({
  channel: Type.String(),
  team: Type.String(),
  type: Type.String(),
  ok: Type.Boolean(),
  deliveryId: Type.String(),
  durationMs: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  code: Type.Union([Type.String(), Type.Null()]),
});

const Threshold = Type.Integer({ minimum: LIMITS.threshold.min, maximum: LIMITS.threshold.max });
const Minutes = Type.Number({ minimum: LIMITS.minutes.min, maximum: LIMITS.minutes.max });
const Switch = Type.Boolean();

const RuleFields = {
  taskFailed: Switch,
  machineOffline: Switch,
  queueLength: Switch,
  taskWait: Switch,
  hostKeyMismatch: Switch,
  sshKeyAge: Switch,
  queueThreshold: Threshold,
  queueMinutes: Minutes,
  waitThresholdMinutes: Minutes,
};

export const AlertRulesPatch = Type.Object(
  {
    ...Object.fromEntries(Object.entries(RuleFields).map(([k, v]) => [k, Type.Optional(v)])),
    priorityThresholds: Type.Optional(
      Type.Record(Type.String({ pattern: '^[1-5]$' }), Type.Union([Threshold, Type.Null()])),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const AlertRulesOut = Type.Object({
  team: Type.String(),
  rules: Type.Object({
    ...RuleFields,
    priorityThresholds: Type.Record(Type.String(), Type.Integer()),
  }),
  /** From the team settings (PATCH /teams/{name}); the ssh-key-age rule uses it. */
  maxKeyAgeDays: Type.Union([Type.Number(), Type.Null()]),
});

export const DeliveryOut = Type.Object({
  deliveryId: Type.String(),
  channel: Type.String(),
  channelType: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: IsoTime,
  sentAt: IsoTime,
  expiresAt: IsoTime,
});
