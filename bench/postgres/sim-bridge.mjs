// A simulated bridge: bench code that speaks the bridge protocol (POST /bridge/claim, /bridge/report)
// and runs nothing. Whatever `onTasks` does not hold is reported exit 0 at once; held attempts get
// heartbeats (`running`) so their lease never runs out.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** POST /api/v1<path> with a bridge token; resolves with the parsed body, rejects on non-200. */
export function post(url, token, path, body, signal) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1${path}`,
      {
        method: 'POST',
        agent,
        signal,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            reject(new Error(`${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${path}: no answer within 120 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const HEARTBEAT_MS = 5_000;

/**
 * Starts one claim loop against `url`: claim {max, waitMs} → `onTasks(tasks, receivedAt)` →
 * report results for every task it did not hold → `onReported(count)`. Returns { stop(), done, requests() }; `done`
 * rejects with the first protocol error.
 */
export function simBridge(
  url,
  token,
  { max, waitMs, onTasks = () => undefined, onReported = () => undefined, hold = () => false },
) {
  const abort = new AbortController();
  let requests = 0;
  let stopped = false;
  const held = [];
  let lastBeat = performance.now();
  const done = (async () => {
    while (!stopped) {
      let c;
      try {
        c = await post(url, token, '/bridge/claim', { max, waitMs, stopping: [] }, abort.signal);
      } catch (err) {
        if (stopped) return;
        throw err;
      }
      requests += 1;
      const at = Date.now();
      const receivedAt = performance.now();
      const results = [];
      for (const t of c.tasks) {
        if (hold(t)) held.push({ taskId: t.taskId, attempt: t.attempt });
        else
          results.push({ taskId: t.taskId, attempt: t.attempt, at, exitCode: 0, signal: null, reason: null });
      }
      if (c.tasks.length > 0) onTasks(c.tasks, receivedAt);
      const beat = held.length > 0 && receivedAt - lastBeat > HEARTBEAT_MS;
      if (results.length > 0 || beat) {
        if (beat) lastBeat = receivedAt;
        await post(url, token, '/bridge/report', { results, running: beat ? held : [] });
        requests += 1;
        if (results.length > 0) onReported(results.length);
      }
    }
  })();
  return {
    done,
    requests: () => requests,
    stop: async () => {
      stopped = true;
      abort.abort();
      await done.catch(() => {});
    },
  };
}
