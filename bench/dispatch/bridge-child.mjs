// A standalone bridge in a child process: node bench/dispatch/bridge-child.mjs --url URL --token TOKEN
// Stands in for `node bin/rediacc.js bridge` where the CLI is not built: the same Bridge,
// HttpBridgeApi and LocalTransport from dist; logs nothing.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { dist } from './lib.mjs';

const { values } = parseArgs({ options: { url: { type: 'string' }, token: { type: 'string' } } });
const { Bridge } = await dist('bridge/bridge.js');
const { HttpBridgeApi } = await dist('bridge/http-api.js');
const { LocalTransport } = await dist('bridge/transports/local.js');

const bridge = new Bridge({
  api: new HttpBridgeApi(values.url, values.token, 'bench-bridge'),
  transports: { local: new LocalTransport() },
  logger: pino({ level: 'silent' }),
});
bridge.start();

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await bridge.stop({ killRunning: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
