import type { Command } from 'commander';
import { contextOf, type Verbs } from '../context.js';
import { CliError, usage } from '../errors.js';
import { printJson } from '../output.js';
import { type QueueStatsView, queueStatsLines, redrawFrame } from './queue-stats-view.js';
import { parseCount, parseSeconds } from './task-input.js';

const DEFAULT_INTERVAL_SECONDS = 2;

interface StatsFlags {
  top?: string;
  byTeam?: boolean;
  watch?: boolean;
  interval?: string;
}

/** `queue stats` (with --watch) and `create metrics-token`. */
export function registerMonitoringCommands(v: Verbs): void {
  v.program
    .command('queue')
    .description('queue commands')
    .command('stats')
    .description('pending per priority, retrying, running, oldest waiting age, busiest machines')
    .option('--top <n>', 'busiest machines to list, 1-100 (default 5)')
    .option('--by-team', 'also show the counts per team and priority')
    .option('--watch', 'refresh in place until Ctrl-C (with -o json: one JSON line per refresh)')
    .option(
      '--interval <seconds>',
      `seconds between refreshes with --watch (default ${DEFAULT_INTERVAL_SECONDS})`,
    )
    .action(async (flags: StatsFlags, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = new URLSearchParams();
      if (flags.top !== undefined) {
        const top = parseCount(flags.top, '--top', 100);
        if (top < 1) throw usage(`--top must be a whole number from 1 to 100, got '${flags.top}'`, '--top');
        query.set('top', String(top));
      }
      if (flags.interval !== undefined && flags.watch !== true) {
        throw usage('--interval needs --watch', '--interval');
      }
      const intervalSeconds =
        flags.interval === undefined
          ? DEFAULT_INTERVAL_SECONDS
          : parseSeconds(flags.interval, '--interval', true);
      if (intervalSeconds < 0.2 || intervalSeconds > 3600) {
        throw usage(`--interval must be from 0.2 to 3600 seconds, got '${flags.interval}'`, '--interval');
      }
      const path = `/queue/stats${query.size > 0 ? `?${query}` : ''}`;
      const fetchStats = () => client.get<QueueStatsView>(path);
      if (flags.watch !== true) {
        const s = await fetchStats();
        if (format === 'json') return printJson(s);
        process.stdout.write(`${queueStatsLines(s, flags.byTeam === true).join('\n')}\n`);
        return;
      }
      await watch(fetchStats, intervalSeconds * 1000, format === 'json', flags.byTeam === true);
    });

  v.create
    .command('metrics-token <name>')
    .description('create a token that may only scrape GET /metrics (admins); shown once')
    .option('--expires-in-days <days>', 'days until the token expires (default: never)')
    .action(async (name: string, flags: { expiresInDays?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body: { name: string; expiresInDays?: number } = { name };
      if (flags.expiresInDays !== undefined) {
        const days = parseCount(flags.expiresInDays, '--expires-in-days', 3650);
        if (days < 1) throw usage('--expires-in-days must be from 1 to 3650', '--expires-in-days');
        body.expiresInDays = days;
      }
      const t = await client.post<{ token: string; name: string; expiresAt: string | null }>(
        '/metrics/tokens',
        body,
      );
      if (format === 'json') return printJson(t);
      process.stdout.write(
        `created metrics token ${t.name}${t.expiresAt === null ? '' : ` (expires ${t.expiresAt})`}\n` +
          `token (shown once): ${t.token}\n` +
          'put it in a file for Prometheus (authorization: credentials_file: …); revoke it with: ' +
          `rediacc token revoke ${t.name}\n`,
      );
    });
}

/**
 * Refreshes until SIGINT or SIGTERM. Text: the screen is redrawn in place.
 * JSON: one line per refresh. An unreachable server or a 5xx shows in the
 * frame and is tried again; a refused request (4xx) ends the watch.
 */
async function watch(
  fetchStats: () => Promise<QueueStatsView>,
  intervalMs: number,
  json: boolean,
  byTeam: boolean,
): Promise<void> {
  let stopped = false;
  let wake = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (!json) process.stdout.write('\u001b[?25l');
  try {
    for (let first = true; !stopped; first = false) {
      let lines: string[];
      try {
        const s = await fetchStats();
        if (json) {
          if (!stopped) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...s })}\n`);
        }
        lines = queueStatsLines(s, byTeam);
      } catch (err) {
        if (!(err instanceof CliError) || err.exitCode === 2) throw err;
        if (json) process.stderr.write(`${err.message} (trying again)\n`);
        lines = [`error: ${err.message} (trying again)`];
      }
      if (!json && !stopped) {
        const header = `queue stats at ${new Date().toLocaleTimeString()}, every ${intervalMs / 1000}s (Ctrl-C to stop)`;
        process.stdout.write(redrawFrame([header, '', ...lines], first));
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (!json) process.stdout.write('\u001b[?25h');
  }
}
