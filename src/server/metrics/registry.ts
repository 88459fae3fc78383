import { Counter, Registry } from 'prom-client';

/**
 * The server's Prometheus registry. Everything rediacc exposes at GET /metrics is registered here
 * (never in prom-client's global registry, so several servers in one process stay apart in tests
 * only through their scrape-time gauges; counters and histograms below are per process).
 */
export const metricsRegistry = new Registry();

/** Outcomes of one notification delivery attempt. */
export type DeliveryOutcome = 'sent' | 'retry' | 'failed' | 'expired';

/**
 * Notification deliveries, incremented by the notification dispatcher once per delivery attempt:
 * `deliveriesTotal.inc({ channel_type: 'email', outcome: 'sent' })`.
 */
export const deliveriesTotal = new Counter<'channel_type' | 'outcome'>({
  name: 'rediacc_notification_deliveries_total',
  help: 'Notification delivery attempts by channel type and outcome (sent, retry, failed, expired).',
  labelNames: ['channel_type', 'outcome'] as const,
  registers: [metricsRegistry],
});
