import { iso } from '../core/time.js';
import type { Alert } from '../core/types.js';

/** What a channel sends: one alert, with the delivery id receivers use to drop duplicates. */
export interface Notice {
  deliveryId: string;
  channel: string;
  alert: Alert;
  /** A `channel test` notice, not a real alert. */
  test: boolean;
}

const TITLES: Record<string, string> = {
  task_failed: 'Task failed',
  machine_offline: 'Machine offline',
  machine_online: 'Machine back online',
  queue_high: 'Queue above threshold',
  queue_recovered: 'Queue back to normal',
  task_wait_high: 'Task waiting too long',
  task_wait_recovered: 'Waiting times back to normal',
  host_key_mismatch: 'Host key mismatch',
  ssh_key_old: 'SSH key too old',
  test: 'Test notification',
};

export function titleOf(kind: string): string {
  return TITLES[kind] ?? kind.replaceAll('_', ' ');
}

/** The webhook's JSON body (its exact bytes are what the signature covers). */
export function webhookBody(n: Notice): string {
  const a = n.alert;
  return JSON.stringify({
    deliveryId: n.deliveryId,
    channel: n.channel,
    test: n.test,
    alert: {
      id: a.id,
      kind: a.kind,
      title: titleOf(a.kind),
      team: a.team,
      taskId: a.taskId,
      machine: a.machine,
      message: a.message,
      createdAt: iso(a.createdAt),
    },
  });
}

/** Slack's incoming-webhook payload: `text` for notifications and fallbacks, `blocks` for the layout. */
export function slackBody(n: Notice): string {
  const a = n.alert;
  const facts = [
    `team *${a.team}*`,
    a.machine === null ? null : `machine \`${a.machine}\``,
    a.taskId === null ? null : `task \`${a.taskId}\``,
    iso(a.createdAt),
  ].filter((x): x is string => x !== null);
  const text = `[rediacc] ${titleOf(a.kind)}: ${a.message}`;
  return JSON.stringify({
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${titleOf(a.kind)} (${a.team})`.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: escapeSlack(a.message).slice(0, 3000) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: facts.join(' · ') }] },
    ],
  });
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function emailMessage(n: Notice): { subject: string; text: string } {
  const a = n.alert;
  const oneLine = a.message.replace(/\s+/g, ' ');
  const subject = `[rediacc] ${titleOf(a.kind)} (${a.team}): ${oneLine}`.slice(0, 200);
  const text = [
    a.message,
    '',
    `kind:     ${a.kind}`,
    `team:     ${a.team}`,
    ...(a.machine === null ? [] : [`machine:  ${a.machine}`]),
    ...(a.taskId === null ? [] : [`task:     ${a.taskId}`]),
    `time:     ${iso(a.createdAt)}`,
    `delivery: ${n.deliveryId}`,
    '',
    `Sent by rediacc through channel ${n.channel}.`,
  ].join('\n');
  return { subject, text };
}
