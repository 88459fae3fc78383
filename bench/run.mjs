// Benchmark runner: npm run bench -- <name> [options]. Benchmarks print figures; they never assert.
const BENCHES = {
  dispatch: {
    load: () => import('./dispatch.mjs'),
    about: 'enqueue→start latency, throughput, create/claim rates, dispatch rate, peak RSS',
  },
  fleet: {
    load: () => import('./fleet.mjs'),
    about: 'SSH fleet vs parallel-ssh, pdsh, ansible: fan-out cold/warm, per-task overhead, RSS at 500',
  },
  postgres: {
    load: () => import('./postgres.mjs'),
    about: '2 replicas on PostgreSQL vs graphile-worker, pg-boss: throughput, latency, p1, deep queue',
  },
  soak: {
    load: () => import('./soak.mjs'),
    about: '2 replicas, 2 bridges, task stream + API readers for --minutes (10): throughput, p99, RSS',
  },
};

const [name, ...args] = process.argv.slice(2);
const bench = BENCHES[name];
if (bench === undefined) {
  process.stderr.write(`${name === undefined ? 'no benchmark given' : `unknown benchmark '${name}'`}\n`);
  process.stderr.write('usage: npm run bench -- <name> [options]\navailable:\n');
  for (const [n, b] of Object.entries(BENCHES)) process.stderr.write(`  ${n.padEnd(10)} ${b.about}\n`);
  process.exit(2);
}
const { main } = await bench.load();
await main(args);
// Keep-alive sockets and unref'd timers must not hold the process open.
process.exit(0);
