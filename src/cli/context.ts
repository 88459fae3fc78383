import type { Command } from 'commander';
import { ApiClient } from './client.js';
import { resolveClient } from './config.js';
import { type Format, parseFormat } from './output.js';

export interface Verbs {
  program: Command;
  create: Command;
  list: Command;
  get: Command;
  update: Command;
  delete: Command;
  cancel: Command;
  retry: Command;
}

export interface GlobalFlags {
  url?: string;
  token?: string;
  output?: string;
}

/** What every command needs: its API client and output format, from the global flags. */
export function contextOf(cmd: Command): { client: ApiClient; format: Format } {
  const flags = cmd.optsWithGlobals() as GlobalFlags;
  const settings = resolveClient({
    ...(flags.url === undefined ? {} : { url: flags.url }),
    ...(flags.token === undefined ? {} : { token: flags.token }),
  });
  return { client: new ApiClient(settings), format: parseFormat(flags.output) };
}

/** Commander collects repeated options through this. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
