import { Type } from 'typebox';
import { IsoTime, Name } from './common.js';

const Labels = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$' }),
  Type.String({ maxLength: 253 }),
  { maxProperties: 64, additionalProperties: false },
);
const Concurrency = Type.Integer({ minimum: 1, maximum: 10_000, description: 'tasks at once; default 4' });

export const CreateMachineBody = Type.Object(
  {
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
});
