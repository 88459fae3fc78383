import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { iso } from '../../core/time.js';
import { checkChannelInput } from '../../notify/channel-input.js';
import type { TestOutcome } from '../../notify/notifier.js';
import { mergeRules, parseRules } from '../../notify/rules.js';
import { type Channel, channelVaultKey, type DeliveryState } from '../../store/notify-store.js';
import type { Store, TeamRole } from '../../store/store.js';
import { actorOf, requireTeam, teamsOf } from '../auth.js';
import {
  AlertRulesOut,
  AlertRulesPatch,
  ChannelOut,
  ChannelParams,
  CreateChannelBody,
  TestOut,
} from '../schemas/channels.js';
import { ErrorBody, NameParams } from '../schemas/common.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** What the channel routes need of the notifier: a test send. */
export interface ChannelTester {
  test(channel: Channel): Promise<TestOutcome>;
}

export function presentChannel(c: Channel) {
  return {
    team: c.team,
    name: c.name,
    type: c.type,
    url: c.config.url ?? null,
    smtp: c.config.smtp ?? null,
    from: c.config.from ?? null,
    to: c.config.to ?? null,
    secretKeys: c.secretKeys,
    createdBy: c.createdBy,
    createdAt: iso(c.createdAt),
  };
}

export function presentDelivery(d: DeliveryState) {
  return {
    deliveryId: d.deliveryId,
    channel: d.channel,
    channelType: d.channelType,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    nextAttemptAt: iso(d.nextAt),
    sentAt: iso(d.sentAt),
    expiresAt: iso(d.expiresAt),
  };
}

/** Adds each alert's deliveries (state, attempts, last error) and why it has none, for GET /alerts. */
export async function withDeliveries<T extends { id: number }>(store: Store, alerts: T[]) {
  const ids = alerts.map((a) => a.id);
  const [deliveries, notes] = await Promise.all([
    store.notify.deliveriesOf(ids),
    store.notify.deliveryNotes(ids),
  ]);
  return alerts.map((a) => ({
    ...a,
    deliveries: deliveries.filter((d) => d.alertId === a.id).map(presentDelivery),
    deliveryNote: notes.get(a.id) ?? null,
  }));
}

export function channelRoutes(app: App, deps: RouteDeps, tester: ChannelTester | null): void {
  const r = typed(app);
  const { store, clock } = deps;

  /** The team, if the caller's role in it allows `role`; another team is as if it did not exist. */
  const team = async (request: FastifyRequest, name: string, role: TeamRole) => {
    request.audit.team = name;
    const hidden = { code: 'TEAM_NOT_FOUND', message: `team '${name}' does not exist` };
    if ((await store.getTeam(name)) === null) throw notFound(hidden.code, hidden.message);
    requireTeam(request, name, role, hidden);
  };
  const channel = async (request: FastifyRequest, teamName: string, name: string, role: TeamRole) => {
    await team(request, teamName, role);
    request.audit.target = name;
    const c = await store.notify.getChannel(teamName, name);
    if (c === null) throw notFound('CHANNEL_NOT_FOUND', `team '${teamName}' has no channel '${name}'`);
    return c;
  };

  r.post(
    '/teams/:name/channels',
    {
      config: { permission: 'channel:write' },
      schema: {
        summary:
          'Create a notification channel; its secrets arrive encrypted and go into the team vault at once',
        tags: ['notifications'],
        params: NameParams,
        body: CreateChannelBody,
        response: { 201: ChannelOut, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const b = request.body;
      request.audit.target = b.name;
      await team(request, request.params.name, 'maintainer');
      const secrets = b.secrets ?? [];
      const { type, config } = checkChannelInput({ ...b, secretNames: secrets.map((s) => s.key) });
      request.audit.details = { type, vaultKeys: secrets.map((s) => channelVaultKey(b.name, s.key)) };
      const actor = actorOf(request) ?? 'unknown';
      const created = await store.notify.createChannel(
        { team: request.params.name, name: b.name, type, config, createdBy: actor },
        secrets.map((s) => ({
          key: channelVaultKey(b.name, s.key),
          ciphertext: s.ciphertext,
          expectedVersion: s.expectedVersion,
        })),
        actor,
        clock(),
      );
      request.log.info({ team: created.team, channel: created.name, type }, 'channel created');
      reply.status(201);
      return presentChannel(created);
    },
  );

  r.get(
    '/channels',
    {
      config: { permission: 'channel:read' },
      schema: {
        summary: 'Notification channels of the teams the caller may see (never a secret)',
        tags: ['notifications'],
        querystring: Type.Object(
          { team: Type.Optional(Type.String({ maxLength: 63 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(ChannelOut) },
      },
    },
    async (request) => {
      const list = await store.notify.listChannels({
        ...(request.query.team === undefined ? {} : { team: request.query.team }),
        teams: teamsOf(request),
      });
      return list.map(presentChannel);
    },
  );

  r.delete(
    '/teams/:name/channels/:channel',
    {
      config: { permission: 'channel:write' },
      schema: {
        summary: 'Delete a channel and its vault values (channel/NAME/*); its unsent notifications fail',
        tags: ['notifications'],
        params: ChannelParams,
        response: { 204: Type.Null(), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const c = await channel(request, request.params.name, request.params.channel, 'maintainer');
      request.audit.details = { type: c.type, vaultKeysDeleted: c.secretKeys };
      await store.notify.deleteChannel(c.team, c.name, clock());
      request.log.info({ team: c.team, channel: c.name }, 'channel deleted');
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/teams/:name/channels/:channel/test',
    {
      config: { permission: 'channel:write' },
      schema: {
        summary: 'Send a test notification through the channel now and report how it went',
        tags: ['notifications'],
        params: ChannelParams,
        response: { 200: TestOut, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const c = await channel(request, request.params.name, request.params.channel, 'maintainer');
      if (tester === null) throw new AppError('NOTIFY_UNAVAILABLE', 'this server runs no notifier', 503);
      const outcome = await tester.test(c);
      request.audit.details = { ok: outcome.ok, ...(outcome.code === null ? {} : { code: outcome.code }) };
      return outcome;
    },
  );

  r.get(
    '/teams/:name/alert-rules',
    {
      config: { permission: 'alert:read' },
      schema: {
        summary:
          'The team’s alert rules: which alerts reach its channels, and the queue and waiting thresholds',
        tags: ['notifications'],
        params: NameParams,
        response: { 200: AlertRulesOut, 404: ErrorBody },
      },
    },
    async (request) => {
      await team(request, request.params.name, 'viewer');
      return rulesOut(request.params.name);
    },
  );

  r.patch(
    '/teams/:name/alert-rules',
    {
      config: { permission: 'team:settings' },
      schema: {
        summary: 'Change some alert rules; the others keep their value (all are on by default)',
        tags: ['notifications'],
        params: NameParams,
        body: AlertRulesPatch,
        response: { 200: AlertRulesOut, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const name = request.params.name;
      request.audit.target = name;
      await team(request, name, 'maintainer');
      const merged = mergeRules(parseRules(await store.notify.getAlertRules(name)), request.body);
      request.audit.details = { changed: Object.keys(request.body) };
      await store.notify.setAlertRules(name, JSON.stringify(merged), clock());
      return rulesOut(name);
    },
  );

  const rulesOut = async (name: string) => ({
    team: name,
    rules: parseRules(await store.notify.getAlertRules(name)),
    maxKeyAgeDays: await store.fleet.getMaxKeyAge(name),
  });
}
