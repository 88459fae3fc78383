import { Command, CommanderError } from 'commander';
import { isAppError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerChannelCommands } from './commands/channels.js';
import { registerDaemons } from './commands/daemons.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerBridgeAdmin, registerIdentityCommands } from './commands/identity.js';
import { registerLogs } from './commands/logs.js';
import { registerMachineCommands } from './commands/machines.js';
import { registerMonitoringCommands } from './commands/monitoring.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerVaultCommands } from './commands/vault.js';
import type { Verbs } from './context.js';
import { CliError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('rediacc')
    .description('distributed task management across many machines')
    .version(VERSION)
    .option('--url <url>', 'server URL (default: REDIACC_URL, the login file, or http://127.0.0.1:7400)')
    .option(
      '--token <token>',
      'API token (default: REDIACC_TOKEN, the login file, or ./.rediacc/admin-token)',
    )
    .option('-o, --output <format>', 'text (default) or json')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  const verb = (name: string, description: string) => program.command(name).description(description);
  const v: Verbs = {
    program,
    create: verb('create', 'create a task, machine, team, region, bridge or user'),
    list: verb('list', 'list tasks, machines, teams, regions, bridges, alerts or users'),
    get: verb('get', 'show one task or machine'),
    update: verb('update', 'change a machine or a user'),
    delete: verb('delete', 'delete a machine or team'),
    cancel: verb('cancel', 'cancel a task'),
    retry: verb('retry', 'run an ended task again'),
  };
  registerTaskCommands(v);
  registerScheduleCommands(v);
  registerMachineCommands(v);
  registerFleetCommands(v);
  registerMonitoringCommands(v);
  registerChannelCommands(v);
  registerIdentityCommands(v);
  registerLogs(program);
  registerVaultCommands(program);
  registerAuditCommands(program);
  registerBridgeAdmin(registerDaemons(program));
  // Every subcommand reports usage errors through the same handler.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  return program;
}

/** Runs the CLI; maps every error to a message on stderr and an exit code (2: bad usage or input). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(channelUrlArgs(argv));
  } catch (err) {
    process.exitCode = report(err);
  }
}

/**
 * `create channel NAME --url X` names the channel's URL, as the docs show; the
 * program-wide `--url` (the server) then goes before the command or comes from
 * REDIACC_URL / the login file. Commander would read a `--url` anywhere as the
 * program's, so it is renamed here, after `create channel` only.
 */
export function channelUrlArgs(argv: readonly string[]): string[] {
  const out = [...argv];
  const at = out.findIndex((a, i) => a === 'create' && out[i + 1] === 'channel');
  if (at < 0) return out;
  for (let i = at + 2; i < out.length; i += 1) {
    const a = out[i] as string;
    if (a === '--') break;
    if (a === '--url') out[i] = '--webhook-url';
    else if (a.startsWith('--url=')) out[i] = `--webhook-url=${a.slice('--url='.length)}`;
  }
  return out;
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    ) {
      return 0;
    }
    // Commander has printed the message already.
    return 2;
  }
  if (err instanceof CliError) {
    process.stderr.write(`rediacc: ${err.message} [${err.code}]\n`);
    return err.exitCode;
  }
  if (isAppError(err)) {
    process.stderr.write(`rediacc: ${err.message} [${err.code}]\n`);
    return err.statusCode >= 400 && err.statusCode < 500 ? 2 : 1;
  }
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    process.stderr.write(`rediacc: ${(err as Error).message}\n`);
    return 2;
  }
  if (code === 'EADDRINUSE') {
    process.stderr.write(`rediacc: ${(err as Error).message} (is another server running? use --port)\n`);
    return 1;
  }
  process.stderr.write(`rediacc: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 70;
}
