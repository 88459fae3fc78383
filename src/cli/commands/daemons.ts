import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import pino from 'pino';
import { MINUTE_MS, SECOND_MS } from '../../core/time.js';
import type { ServerSettings } from '../../server/settings.js';
import { DEFAULT_PORT } from '../../server/settings.js';
import { QUICK_START_URL } from '../config.js';
import { usage } from '../errors.js';
import { parseCount, parseSeconds } from './task-input.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(value: string | undefined): string {
  const level = value ?? process.env.REDIACC_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(level))
    throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, '--log-level');
  return level;
}

function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

const DRAIN_FLAG = '--drain-seconds <s>';
const DRAIN_HELP =
  'on SIGTERM/SIGINT, stop claiming and let running commands finish this long before stopping them (default 10; a second signal stops at once)';

function drainOption(value: string | undefined): number {
  return value === undefined
    ? 10 * SECOND_MS
    : Math.round(parseSeconds(value, '--drain-seconds') * SECOND_MS);
}

/** `10.0.0.5,10.1.0.0/16` → each an IP address, or one with a prefix length that fits it. */
export function proxyList(value: string): string[] {
  const list = value.split(',').map((x) => x.trim());
  for (const entry of list) {
    const [addr = '', bits, ...rest] = entry.split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    const okBits = bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !okBits || rest.length > 0)
      throw usage(`--trust-proxy: '${entry}' is not an IP address or CIDR range`, '--trust-proxy');
  }
  return list;
}

/** The vault master password from a file or REDIACC_MASTER_PASSWORD, if given. */
function masterOption(file: string | undefined): { masterPassword?: string } {
  if (file !== undefined) return { masterPassword: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
  const env = process.env.REDIACC_MASTER_PASSWORD;
  return env === undefined || env === '' ? {} : { masterPassword: env };
}

interface BridgeFlags {
  masterPasswordFile?: string;
  url?: string;
  token?: string;
  tokenFile?: string;
  region?: string;
  maxRunning?: string;
  stateDir?: string;
  logLevel?: string;
  drainSeconds?: string;
}

interface ServerFlags {
  databaseUrl?: string;
  logRetentionDays?: string;
  masterPasswordFile?: string;
  port?: string;
  host?: string;
  dataDir?: string;
  bridge?: boolean;
  leaseSeconds?: string;
  agingMinutes?: string;
  criticalReserve?: string;
  outputCapMb?: string;
  logLevel?: string;
  metricsPublic?: boolean;
  drainSeconds?: string;
  trustProxy?: string;
}

/** Registers `server` and `bridge`; returns the bridge command for its admin subcommands. */
export function registerDaemons(program: Command): Command {
  program
    .command('server')
    .description(
      'run the control plane (HTTP API, scheduler, SQLite store) with an embedded bridge for region default',
    )
    .option('--port <port>', `port to listen on (default ${DEFAULT_PORT})`)
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--data-dir <dir>', 'where the SQLite store and the admin token live (default ./.rediacc)')
    .option('--no-bridge', 'do not run the embedded bridge')
    .option(
      '--database-url <url>',
      'PostgreSQL for several replicas (postgres://…; else DATABASE_URL, else SQLite)',
    )
    .option('--lease-seconds <s>', 'how long a bridge holds a task without a heartbeat (default 30)')
    .option(
      '--aging-minutes <m>',
      'a waiting task moves up one priority level per this many minutes (default 10)',
    )
    .option('--critical-reserve <n>', 'extra slots per machine for priority-1 tasks (default 1)')
    .option('--output-cap-mb <mb>', 'stored output per task (default 10)')
    .option(
      '--log-retention-days <days>',
      'archive and delete output of tasks that ended longer ago (default 30)',
    )
    .option(
      '--master-password-file <file>',
      'vault master password for the embedded bridge (else REDIACC_MASTER_PASSWORD)',
    )
    .option('--log-level <level>', 'JSON log level (default info)')
    .option('--metrics-public', 'serve GET /metrics without a token (default: an admin or metrics token)')
    .option(DRAIN_FLAG, DRAIN_HELP)
    .option(
      '--trust-proxy <addresses>',
      'load balancers in front (comma-separated addresses or CIDR ranges): their X-Forwarded-For names the client for login limits and the audit log',
    )
    .action(async (f: ServerFlags) => {
      const drainMs = drainOption(f.drainSeconds);
      const trustProxy = f.trustProxy === undefined ? undefined : proxyList(f.trustProxy);
      const settings: Partial<ServerSettings> = {};
      if (f.leaseSeconds !== undefined)
        settings.leaseMs = parseSeconds(f.leaseSeconds, '--lease-seconds', true) * SECOND_MS;
      if (f.agingMinutes !== undefined)
        settings.agingIntervalMs = parseSeconds(f.agingMinutes, '--aging-minutes') * MINUTE_MS;
      if (f.criticalReserve !== undefined)
        settings.criticalReserve = parseCount(f.criticalReserve, '--critical-reserve', 1000);
      if (f.outputCapMb !== undefined) {
        settings.outputCapBytes = Math.round(
          parseSeconds(f.outputCapMb, '--output-cap-mb', true) * 1024 * 1024,
        );
      }
      if (f.logRetentionDays !== undefined) {
        settings.logRetentionDays = parseSeconds(f.logRetentionDays, '--log-retention-days');
      }
      const port = f.port === undefined ? DEFAULT_PORT : parseCount(f.port, '--port', 65_535);
      const logger = pino({ level: logLevel(f.logLevel), base: { pid: process.pid } });
      // Loaded here, not at the top: other commands (and the bridge) need none of the server's modules.
      const { startServer } = await import('../../server/start.js');
      const s = await startServer({
        port,
        host: f.host ?? '127.0.0.1',
        ...(f.dataDir === undefined ? {} : { dataDir: f.dataDir }),
        bridge: f.bridge !== false,
        ...(f.databaseUrl === undefined ? {} : { databaseUrl: f.databaseUrl }),
        settings,
        ...(process.env.REDIACC_ADMIN_TOKEN === undefined
          ? {}
          : { adminToken: process.env.REDIACC_ADMIN_TOKEN }),
        ...masterOption(f.masterPasswordFile),
        logger,
        metricsPublic: f.metricsPublic === true,
        drainMs,
        ...(trustProxy === undefined ? {} : { trustProxy }),
      });
      const lines = [
        `rediacc server listening on ${s.url}`,
        `dashboard: ${s.url}/ (log in with the admin token, or an email and password)`,
      ];
      if (s.boot.generatedToken !== null) {
        lines.push(
          `admin token (shown once, also saved to ${s.boot.tokenFile}):`,
          `  ${s.boot.generatedToken}`,
        );
      } else {
        lines.push(
          `admin token: in ${s.boot.tokenFile}${process.env.REDIACC_ADMIN_TOKEN === undefined ? '' : ' (or REDIACC_ADMIN_TOKEN)'}`,
        );
      }
      if (s.boot.masterPasswordFile !== null) {
        lines.push(
          `WARNING: vault master password generated into ${s.boot.masterPasswordFile} (quick start only: whoever`,
          '  reads the data dir can open the vault; in production set REDIACC_MASTER_PASSWORD on clients and bridges',
          '  and keep it off the server)',
        );
      }
      lines.push(
        s.bridge === null ? 'embedded bridge: off' : 'embedded bridge: on (region default, machine local)',
        f.metricsPublic === true
          ? `metrics: ${s.url}/metrics (public)`
          : `metrics: ${s.url}/metrics (token: rediacc create metrics-token NAME)`,
        'try: npx rediacc create task --machine local --priority 1 --command "uptime" --wait',
      );
      process.stderr.write(`${lines.join('\n')}\n`);
      onShutdown(() => s.close());
      await new Promise(() => {});
    });

  program
    .command('migrate-store')
    .description('copy a SQLite store into an empty PostgreSQL database (stop the server first)')
    .requiredOption('--from <sqlite:path>', 'the SQLite store, e.g. sqlite:./.rediacc/rediacc.db')
    .requiredOption('--to <postgres-url>', 'postgres://user@host:5432/db')
    .action(async (f: { from: string; to: string }) => {
      if (!f.from.startsWith('sqlite:')) throw usage('--from takes sqlite:PATH', '--from');
      if (!/^postgres(ql)?:\/\//.test(f.to)) throw usage('--to takes a postgres:// URL', '--to');
      const { migrateStore } = await import('../../store/migrate-store.js');
      const copied = await migrateStore(f.from.slice('sqlite:'.length), f.to, (table, rows) => {
        process.stderr.write(`copied ${table}: ${rows} row(s)\n`);
      });
      const total = copied.reduce((a, c) => a + c.rows, 0);
      process.stdout.write(
        `migrated ${total} row(s) in ${copied.length} tables; start the servers with --database-url\n`,
      );
    });

  return program
    .command('bridge')
    .description('run a standalone bridge: claims tasks of its region over HTTP and runs them')
    .addHelpText(
      'after',
      `\nThe global --url (default REDIACC_URL or ${QUICK_START_URL}) and --token name the control plane and the\nbridge token; prefer REDIACC_BRIDGE_TOKEN or --token-file, since flags show in process lists.`,
    )
    .option('--token-file <file>', 'read the bridge token from this file')
    .option('--region <region>', 'region it serves (must match its token; default: default)')
    .option('--max-running <n>', 'most commands at once (default 256)')
    .option('--state-dir <dir>', 'where it records running commands, to stop leftovers after a crash')
    .option(
      '--master-password-file <file>',
      'vault master password for vault:KEY variables (else REDIACC_MASTER_PASSWORD)',
    )
    .option('--log-level <level>', 'JSON log level (default info)')
    .option(DRAIN_FLAG, DRAIN_HELP)
    .action(async (_own: BridgeFlags, cmd: Command) => {
      // --url and --token are the program's global options.
      const f = cmd.optsWithGlobals() as BridgeFlags;
      const drainMs = drainOption(f.drainSeconds);
      const token =
        f.token ??
        (f.tokenFile === undefined ? undefined : readFileSync(f.tokenFile, 'utf8').trim()) ??
        process.env.REDIACC_BRIDGE_TOKEN;
      if (token === undefined || token === '')
        throw usage('give the bridge token: --token, --token-file or REDIACC_BRIDGE_TOKEN');
      const url = f.url ?? process.env.REDIACC_URL ?? QUICK_START_URL;
      const logger = pino({
        level: logLevel(f.logLevel),
        base: { pid: process.pid, region: f.region ?? 'default' },
      });
      const [{ Bridge }, { HttpBridgeApi }, { standardTransports }] = await Promise.all([
        import('../../bridge/bridge.js'),
        import('../../bridge/http-api.js'),
        import('../../bridge/setup.js'),
      ]);
      const api = new HttpBridgeApi(url, token, 'standalone');
      const { transports, pool } = standardTransports(
        api,
        logger,
        f.stateDir === undefined ? {} : { stateDir: f.stateDir },
      );
      const bridge = new Bridge({
        api,
        transports,
        pool,
        logger,
        ...masterOption(f.masterPasswordFile),
        ...(f.maxRunning === undefined
          ? {}
          : { maxRunning: parseCount(f.maxRunning, '--max-running', 100_000) }),
      });
      bridge.start();
      logger.info({ url }, 'bridge started');
      onShutdown(() => bridge.stop({ drainMs }));
      await new Promise(() => {});
    });
}
