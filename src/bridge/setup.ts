import type { Logger } from 'pino';
import type { Transport as TransportKind } from '../core/types.js';
import type { BridgeApi } from './api.js';
import { LocalTransport } from './transports/local.js';
import { SpawnerTransport } from './transports/spawner.js';
import { SshTransport } from './transports/ssh.js';
import { SshPool } from './transports/ssh-pool.js';
import type { Transport } from './transports/transport.js';

/** The transports every bridge has: local commands and SSH over a shared pool. */
export function standardTransports(
  api: BridgeApi,
  logger: Logger,
  options: { stateDir?: string; spawner?: boolean } = {},
): { transports: Record<TransportKind, Transport>; pool: SshPool } {
  const pool = new SshPool({
    logger,
    onNewHostKey: (machine, hostKey) => {
      api.pinHostKey(machine, hostKey).catch((err: unknown) => {
        logger.error({ machine, err: (err as Error).message }, 'could not pin the host key');
      });
    },
  });
  return {
    transports: {
      // A separate lean process starts local commands: forking a big process is slow.
      local:
        options.spawner === false
          ? new LocalTransport(options.stateDir === undefined ? {} : { stateDir: options.stateDir })
          : new SpawnerTransport(logger, options.stateDir),
      ssh: new SshTransport(pool),
    },
    pool,
  };
}
