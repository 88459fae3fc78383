// A control plane in a child process, for benchmarks that need the server apart from the client:
// node bench/dispatch/server-child.mjs --port P --data-dir D [--no-bridge]
// Stands in for `node bin/rediacc.js server` where the CLI is not built; logs nothing.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ADMIN_TOKEN, dist } from './lib.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    'no-bridge': { type: 'boolean', default: false },
  },
});
const { startServer } = await dist('server/start.js');
const server = await startServer({
  dataDir: values['data-dir'],
  port: Number(values.port),
  adminToken: process.env.REDIACC_ADMIN_TOKEN ?? ADMIN_TOKEN,
  logger: pino({ level: 'silent' }),
  bridge: !values['no-bridge'],
});

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
