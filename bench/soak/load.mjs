// The soak's two kinds of load: a steady stream of single task creates spread over the replicas,
// and autocannon readers (list, get, queue stats) at a fixed rate on each replica.
import { ADMIN_TOKEN, call, pct, round, sleep } from '../dispatch/lib.mjs';
import { loadPeer } from '../postgres/peers.mjs';

const MAX_IN_FLIGHT = 32;

/**
 * Creates `ratePerSec` tasks a second (one request each, replicas in turn) until stop(). Each
 * minute's create latencies and errors are taken with take(); recent task ids feed the readers.
 */
export function taskStream(replicas, machine, ratePerSec) {
  const recent = [];
  let created = 0;
  let window = { ms: [], errors: 0, skipped: 0 };
  let inFlight = 0;
  let stopped = false;
  let n = 0;
  const one = async () => {
    const r = replicas[n++ % replicas.length];
    inFlight += 1;
    const t0 = performance.now();
    try {
      const res = await call(r.url, ADMIN_TOKEN, 'POST', '/tasks', { machine, command: 'true' });
      window.ms.push(performance.now() - t0);
      if (res.status !== 201) window.errors += 1;
      else {
        created += 1;
        recent.push(res.body.taskId);
        if (recent.length > 1000) recent.splice(0, recent.length - 1000);
      }
    } catch {
      window.errors += 1;
    } finally {
      inFlight -= 1;
    }
  };
  const done = (async () => {
    const interval = 1000 / ratePerSec;
    let next = performance.now();
    while (!stopped) {
      // A server too slow to keep up shows as skipped creates, not as a growing pile of requests.
      if (inFlight >= MAX_IN_FLIGHT) window.skipped += 1;
      else void one();
      next += interval;
      await sleep(Math.max(0, next - performance.now()));
    }
    while (inFlight > 0) await sleep(10);
  })();
  return {
    recent,
    created: () => created,
    take() {
      const w = window;
      window = { ms: [], errors: 0, skipped: 0 };
      return { creates: w.ms.length, p99Ms: round(pct(w.ms, 0.99), 1), errors: w.errors, skipped: w.skipped };
    },
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/**
 * One autocannon run of `seconds` on one replica: `connections` connections at `rate` requests/s
 * in all, cycling GET /tasks?limit=50, GET /tasks/<a recent id>, GET /queue/stats.
 */
export async function readers(url, recent, { seconds, rate, connections = 4 }) {
  const autocannon = await loadPeer('autocannon');
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const r = await autocannon({
    url,
    connections,
    overallRate: rate,
    duration: seconds,
    headers,
    requests: [
      { method: 'GET', path: '/api/v1/tasks?limit=50' },
      {
        method: 'GET',
        setupRequest: (req) => ({
          ...req,
          path: `/api/v1/tasks/${recent.length === 0 ? '00000000-0000-0000-0000-000000000000' : recent[Math.floor(Math.random() * recent.length)]}`,
        }),
      },
      { method: 'GET', path: '/api/v1/queue/stats' },
    ],
  });
  return {
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
}
