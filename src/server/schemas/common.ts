import { Type } from 'typebox';

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const Name = Type.String({ pattern: NAME_PATTERN, description: 'letters, digits, . _ -; at most 63' });
export const Uuid = Type.String({ pattern: '^[0-9a-fA-F-]{36}$' });
export const IsoTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
  }),
});

/** Query values arrive as text; these patterns validate them before parsing. */
export const QueryInt = Type.String({ pattern: '^[0-9]{1,9}$' });
export const QueryBool = Type.String({ pattern: '^(0|1|true|false)$' });

/** A vault value's version: the version a write replaces (0 for a new key); a 32-bit column in both stores. */
export const VaultVersion = Type.Integer({ minimum: 0, maximum: 2_147_483_647 });

export const NameParams = Type.Object({ name: Name });
export const TaskParams = Type.Object({ id: Uuid });

export function queryInt(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : Number.parseInt(value, 10);
}

export function queryBool(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}
