import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './errors.js';

/** Asks on the terminal without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  if (process.stdin.isTTY !== true) {
    throw new CliError(
      'NO_TERMINAL',
      `${question.trim()} needs a terminal; pass it through a file or stdin instead`,
    );
  }
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  process.stderr.write(question);
  muted = true;
  const answer = await new Promise<string>((done) => rl.question('', done));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

/** All of standard input, without the final newline. */
export function readStdin(): string {
  return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
}

export function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new CliError('USAGE', `cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
}

/**
 * The organisation's master password: REDIACC_MASTER_PASSWORD, else
 * --master-password-file, else the quick start's ./.rediacc/master-password,
 * else a prompt. It is only ever used here, on the client.
 */
export async function masterPassword(file: string | undefined, label = 'master password'): Promise<string> {
  if (file !== undefined) return readSecretFile(file, `the ${label}`);
  const env = process.env.REDIACC_MASTER_PASSWORD;
  if (env !== undefined && env !== '') return env;
  const quick = resolve(process.env.REDIACC_DATA_DIR ?? '.rediacc', 'master-password');
  if (existsSync(quick)) return readSecretFile(quick, `the ${label}`);
  const typed = await promptHidden(`Vault ${label}: `);
  if (typed === '') throw new CliError('USAGE', `an empty ${label} is not accepted`);
  return typed;
}
