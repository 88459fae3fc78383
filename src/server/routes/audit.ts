import { Type } from 'typebox';
import { ChainVerifier } from '../../audit/chain.js';
import { invalid } from '../../core/errors.js';
import { iso } from '../../core/time.js';
import { queryInt } from '../schemas/common.js';
import { type App, type RouteDeps, typed } from './deps.js';

const PAGE = 5000;
const Time = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+Z?)?$',
  description: 'ISO date or time (UTC)',
});

/** Milliseconds of an ISO date or time; one without a zone is UTC (as documented), not the server's zone. */
function utcTime(value: string): number {
  const text = value.replace(' ', 'T');
  return Date.parse(text.includes('T') && !text.endsWith('Z') ? `${text}Z` : text);
}

export function auditRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store } = deps;

  r.get(
    '/audit',
    {
      config: { permission: 'audit:read' },
      schema: {
        summary:
          'Audit records, oldest first; page with after=<id of the last one> (or newest first with order=desc, paging with before=<id>)',
        tags: ['audit'],
        querystring: Type.Object(
          {
            actor: Type.Optional(Type.String({ maxLength: 254 })),
            action: Type.Optional(Type.String({ maxLength: 100 })),
            team: Type.Optional(Type.String({ maxLength: 63 })),
            since: Type.Optional(Time),
            until: Type.Optional(Time),
            target: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 300,
                description: 'exact target, or a prefix ending in *',
              }),
            ),
            order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
            before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const q = request.query;
      // The pattern lets through dates that do not exist (2024-13-45, 25:00): refused, not read as "no records".
      for (const field of ['since', 'until'] as const) {
        const value = q[field];
        if (value !== undefined && Number.isNaN(utcTime(value)))
          throw invalid(`${field} is not a valid date or time: '${value}'`, field);
      }
      const records = await store.audit.list({
        ...(q.actor === undefined ? {} : { actor: q.actor }),
        ...(q.action === undefined ? {} : { action: q.action }),
        ...(q.team === undefined ? {} : { team: q.team }),
        ...(q.since === undefined ? {} : { since: utcTime(q.since) }),
        ...(q.until === undefined ? {} : { until: utcTime(q.until) }),
        ...(q.target === undefined ? {} : { target: q.target }),
        ...(q.order === 'desc'
          ? { newestFirst: true, beforeId: queryInt(q.before, Number.MAX_SAFE_INTEGER) }
          : {}),
        afterId: queryInt(q.after, 0),
        limit: Math.min(PAGE, Math.max(1, queryInt(q.limit, 100))),
      });
      return records.map((x) => ({ ...x, time: iso(x.at) }));
    },
  );

  r.get(
    '/audit/verify',
    {
      config: { permission: 'audit:read' },
      schema: {
        summary: 'Recomputes the hash chain; reports the first broken link',
        tags: ['audit'],
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            checked: Type.Integer(),
            brokenAt: Type.Optional(Type.Integer()),
            problem: Type.Optional(Type.String()),
            lastHash: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async () => {
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const page = await store.audit.list({ afterId: after, limit: PAGE });
        if (!verifier.feed(page) || page.length < PAGE) break;
        after = page.at(-1)?.id ?? after;
      }
      const result = verifier.result();
      const head = await store.audit.head();
      if (result.ok && head !== null && (head.id !== result.checked || head.hash !== result.lastHash)) {
        return {
          ok: false,
          checked: result.checked,
          brokenAt: result.checked + 1,
          problem: `records after ${result.checked} are missing (the log's head is record ${head.id})`,
        };
      }
      return result;
    },
  );
}
