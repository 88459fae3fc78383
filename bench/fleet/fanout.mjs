// Scenarios 1 and 2: `true` on every machine of a 50-machine fleet. rediacc: each repetition starts
// a fresh server (no connection open), registers the machines, then times one fan-out (cold) and
// `warmRuns` more on the same server (warm, pooled connections). The peers run twice per repetition.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dist, log, median, onCleanup, round, tempDir } from '../dispatch/lib.mjs';
import { startFleets } from './harness.mjs';
import { peerTools, runPeerTwice } from './peers.mjs';
import { batchSpan, fanOut, openStore, registerMachines, startServer } from './rediacc.mjs';
import { fanOutFloor } from './ssh-floor.mjs';

const SELECT = { role: 'bench' };

async function rediaccRep(set, rep, warmRuns) {
  const srv = await startServer(`fleet-fanout-${rep}`);
  let db;
  try {
    const registerMs = await registerMachines(srv, set.machines, SELECT);
    const runs = [];
    for (let i = 0; i <= warmRuns; i++) {
      const r = await fanOut(srv, SELECT, 'true');
      if ((r.counts.completed ?? 0) !== set.machines.length) {
        throw new Error(`rediacc fan-out ${i}: ${JSON.stringify(r.counts)} of ${set.machines.length}`);
      }
      runs.push(r);
    }
    db = openStore(srv);
    const span = runs.map((r) => batchSpan(db, r.batchId));
    return {
      registerMs,
      cold: runs[0].ms,
      coldServer: span[0],
      warm: runs.slice(1).map((r) => r.ms),
      warmServer: span.slice(1),
      createMs: runs.map((r) => r.createdMs),
    };
  } finally {
    db?.close();
    await srv.close();
  }
}

/** The vault key derivation (scrypt) a fresh bridge does once before its first SSH task. */
async function kdfMs() {
  const { newKdf, deriveKek } = await dist('vault/crypto.js');
  const kdf = newKdf();
  const t0 = performance.now();
  deriveKek('a-benchmark-master-password', kdf);
  return performance.now() - t0;
}

const fmt = (xs) => xs.map((x) => Math.round(x)).join('/');

export async function fanout({ quick }) {
  const size = 50;
  const reps = quick ? 2 : 3;
  const warmRuns = quick ? 3 : 5;
  const set = await startFleets(size);
  const peerDir = tempDir('fleet-peers');
  const dropPeerDir = onCleanup(() => rmSync(peerDir, { recursive: true, force: true }));
  try {
    const tools = await peerTools(set.fleets[0], peerDir);
    const rd = [];
    const floor = { bare: [], script: [] };
    const peers = Object.fromEntries(tools.map((t) => [t.tool, { first: [], second: [] }]));
    for (let rep = 0; rep < reps; rep++) {
      const r = await rediaccRep(set, rep, warmRuns);
      rd.push(r);
      let line = `rep ${rep + 1}/${reps}: rediacc cold ${Math.round(r.cold)} ms, warm ${fmt(r.warm)} ms`;
      for (const t of tools) {
        const p = await runPeerTwice(t, size, join(peerDir, `cp-${rep}`));
        peers[t.tool].first.push(p.first);
        peers[t.tool].second.push(p.second);
        line += `; ${t.tool} ${Math.round(p.first)}/${Math.round(p.second)} ms`;
      }
      // Same load as this repetition: 50 warm ssh2 connections of our own, no rediacc.
      const f = await fanOutFloor(set.machines, warmRuns);
      floor.bare.push(...f.bare);
      floor.script.push(...f.script);
      log(`${line}; floor: bare ssh2 ${fmt(f.bare)} ms, remote script ${fmt(f.script)} ms`);
    }
    const cold = median(rd.map((r) => r.cold));
    const warm = median(rd.flatMap((r) => r.warm));
    const med = Object.fromEntries(
      Object.entries(peers).map(([k, v]) => [k, { first: median(v.first), second: median(v.second) }]),
    );
    const result = {
      machines: size,
      repetitions: reps,
      warmRunsPerRep: warmRuns,
      rediacc: {
        coldMs: round(cold, 1),
        warmMs: round(warm, 1),
        coldRuns: rd.map((r) => round(r.cold, 1)),
        warmRuns: rd.flatMap((r) => r.warm.map((x) => round(x, 1))),
        coldServerSpanMs: round(median(rd.map((r) => r.coldServer)), 1),
        warmServerSpanMs: round(median(rd.flatMap((r) => r.warmServer)), 1),
        createRequestMs: round(median(rd.flatMap((r) => r.createMs)), 1),
        registerMs: round(median(rd.map((r) => r.registerMs))),
        vaultKdfMs: round(await kdfMs(), 1),
      },
      floorWarm: { bareSsh2Ms: round(median(floor.bare), 1), remoteScriptMs: round(median(floor.script), 1) },
      peers: Object.fromEntries(
        Object.entries(peers).map(([k, v]) => [
          k,
          {
            firstMs: round(med[k].first, 1),
            secondMs: round(med[k].second, 1),
            firstRuns: v.first.map((x) => round(x, 1)),
            secondRuns: v.second.map((x) => round(x, 1)),
            command: tools.find((t) => t.tool === k).describe,
          },
        ]),
      ),
    };
    return { result, rows: rows(result, med) };
  } finally {
    await set.close();
    dropPeerDir();
  }
}

function rows(result, med) {
  const r = result.rediacc;
  const n = result.machines;
  const pssh = med['parallel-ssh'];
  const out = [
    {
      figure: `1. cold fan-out, ${n} × true: rediacc`,
      value: `${Math.round(r.coldMs)} ms (${fmt(r.coldRuns)}; in store ${Math.round(r.coldServerSpanMs)})`,
      target:
        pssh === undefined ? '≤ parallel-ssh (not installed)' : `≤ parallel-ssh ${Math.round(pssh.first)} ms`,
      ok: pssh === undefined ? null : r.coldMs <= pssh.first,
    },
  ];
  for (const [tool, m] of Object.entries(med)) {
    out.push({
      figure: `1. cold fan-out: ${tool}`,
      value: `${Math.round(m.first)} ms`,
      target: '',
      ok: null,
    });
  }
  out.push({
    figure: `2. warm fan-out, ${n} × true: rediacc`,
    value: `${round(r.warmMs, 1)} ms (in store ${round(r.warmServerSpanMs, 1)})`,
    target: pssh === undefined ? '≥ 20× parallel-ssh' : `≤ ${round(pssh.second / 20, 1)} ms (20×)`,
    ok: pssh === undefined ? null : r.warmMs * 20 <= pssh.second,
  });
  out.push({
    figure: `2. floor: ${n} warm ssh2 connections, no rediacc`,
    value: `bare ${result.floorWarm.bareSsh2Ms} ms; remote script ${result.floorWarm.remoteScriptMs} ms`,
    target: '',
    ok: null,
  });
  const how = { ansible: 'ControlPersist reuse', 'parallel-ssh': 'no reuse', pdsh: 'no reuse' };
  for (const [tool, m] of Object.entries(med)) {
    out.push({
      figure: `2. second run: ${tool} (${how[tool]})`,
      value: `${Math.round(m.second)} ms = ${round(m.second / r.warmMs, 1)}× rediacc`,
      target: '',
      ok: null,
    });
  }
  return out;
}
