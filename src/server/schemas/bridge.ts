import { Type } from 'typebox';

const Ref = { taskId: Type.String({ maxLength: 64 }), attempt: Type.Integer({ minimum: 1 }) };
/** ms since the epoch, within what a Date can hold. */
const Time = Type.Number({ minimum: 0, maximum: 8_640_000_000_000_000 });

export const ClaimBody = Type.Object(
  {
    max: Type.Integer({ minimum: 0, maximum: 10_000 }),
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
    stopping: Type.Optional(
      Type.Array(Type.Object(Ref, { additionalProperties: false }), {
        maxItems: 100_000,
        description: 'attempts the bridge is already stopping: their cancellation does not end the wait',
      }),
    ),
    claimId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.:-]{1,64}$',
        description:
          'names this request; a bridge that got no answer asks again with the same id and gets back the unstarted tasks the lost answer held',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ReportBody = Type.Object(
  {
    started: Type.Optional(Type.Array(Type.Object({ ...Ref, at: Time }, { additionalProperties: false }))),
    output: Type.Optional(
      Type.Array(
        Type.Object(
          {
            ...Ref,
            chunk: Type.Integer({ minimum: 0 }),
            stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr'), Type.Literal('system')]),
            at: Time,
            data: Type.String({ maxLength: 4 * 1024 * 1024 }),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    results: Type.Optional(
      Type.Array(
        Type.Object(
          {
            ...Ref,
            at: Time,
            exitCode: Type.Union([Type.Integer(), Type.Null()]),
            signal: Type.Union([Type.String({ maxLength: 32 }), Type.Null()]),
            reason: Type.Union([
              Type.Null(),
              Type.Literal('TIMEOUT'),
              Type.Literal('SPAWN_FAILED'),
              Type.Literal('MACHINE_UNREACHABLE'),
              Type.Literal('AUTH_FAILED'),
              Type.Literal('HOST_KEY_MISMATCH'),
              Type.Literal('LOST', { description: 'the bridge stopped the command because it shut down' }),
            ]),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    running: Type.Optional(Type.Array(Type.Object(Ref, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);
