import { Type } from 'typebox';
import { DeliveryOut } from './channels.js';
import { IsoTime, Name } from './common.js';

const Labels = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$' }),
  Type.String({ maxLength: 253 }),
  { maxProperties: 64, additionalProperties: false },
);
const Concurrency = Type.Integer({ minimum: 1, maximum: 10_000, description: 'tasks at once; default 4' });

export const HostKey = Type.String({
  pattern: '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|ssh-ed448) [A-Za-z0-9+/]+={0,3}( [^\\n]*)?$',
  maxLength: 4096,
  description: 'the host key to pin, as in known_hosts: "ssh-ed25519 AAAA…"',
});

export const CreateMachineBody = Type.Object(
  {
    hostKey: Type.Optional(HostKey),
    name: Name,
    team: Type.Optional(Name),
    region: Type.Optional(Name),
    transport: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('ssh')])),
    concurrency: Type.Optional(Concurrency),
    labels: Type.Optional(Labels),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const UpdateMachineBody = Type.Object(
  {
    hostKey: Type.Optional(HostKey),
    region: Type.Optional(Name),
    concurrency: Type.Optional(Concurrency),
    labels: Type.Optional(Labels),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const MachineOut = Type.Object({
  name: Type.String(),
  team: Type.String(),
  region: Type.String(),
  transport: Type.String(),
  concurrency: Type.Integer(),
  labels: Type.Record(Type.String(), Type.String()),
  host: Type.Union([Type.String(), Type.Null()]),
  port: Type.Union([Type.Integer(), Type.Null()]),
  user: Type.Union([Type.String(), Type.Null()]),
  running: Type.Integer(),
  pending: Type.Integer(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  status: Type.String({ description: 'online, offline or unknown (not probed yet)' }),
  statusSince: IsoTime,
  lastError: Type.Union([Type.String(), Type.Null()]),
  hostKey: Type.Union([Type.String(), Type.Null()]),
  hostKeyFingerprint: Type.Union([Type.String(), Type.Null()]),
  keyCreatedAt: IsoTime,
  health: Type.Union([
    Type.Null(),
    Type.Object({
      at: IsoTime,
      cpuPercent: Type.Union([Type.Number(), Type.Null()]),
      load1: Type.Union([Type.Number(), Type.Null()]),
      memUsedBytes: Type.Union([Type.Number(), Type.Null()]),
      memTotalBytes: Type.Union([Type.Number(), Type.Null()]),
      diskUsedBytes: Type.Union([Type.Number(), Type.Null()]),
      diskTotalBytes: Type.Union([Type.Number(), Type.Null()]),
    }),
  ]),
});

export const NameBody = Type.Object({ name: Name }, { additionalProperties: false });

export const TeamOut = Type.Object({ name: Type.String(), createdAt: IsoTime });

export const CreateBridgeBody = Type.Object(
  { name: Name, region: Type.Optional(Name) },
  { additionalProperties: false },
);

export const BridgeOut = Type.Object({
  name: Type.String(),
  region: Type.String(),
  online: Type.Boolean(),
  lastSeenAt: IsoTime,
  running: Type.Integer(),
  createdAt: IsoTime,
});

export const AlertOut = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  team: Type.String(),
  taskId: Type.Union([Type.String(), Type.Null()]),
  machine: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  createdAt: IsoTime,
  /** Where the alert went: one entry per channel of its team (src/notify). */
  deliveries: Type.Array(DeliveryOut),
  /** Why it went nowhere (no channel, rule off), or null. */
  deliveryNote: Type.Union([Type.String(), Type.Null()]),
});
