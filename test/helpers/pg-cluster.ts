import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './cli.js';

/** The PostgreSQL server binaries of this machine (Debian keeps them per version). */
function pgBin(tool: string): string {
  const base = '/usr/lib/postgresql';
  const version = readdirSync(base).sort().at(-1);
  if (version === undefined) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join(base, version, 'bin', tool);
}

const asPostgres = (args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });

/**
 * A private PostgreSQL cluster in a temporary folder on its own port, for
 * tests that stop or restart the database: the shared service stays up.
 */
export async function startPrivateCluster(): Promise<{ url: string; restart(): void; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'rediacc-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  asPostgres([pgBin('initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const ctl = (...args: string[]) =>
    asPostgres([pgBin('pg_ctl'), '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', ...args]);
  ctl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => ctl('-m', 'fast', 'restart'),
    close: () => {
      try {
        if (existsSync(join(data, 'postmaster.pid'))) ctl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
