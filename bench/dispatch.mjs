// npm run bench -- dispatch [--only latency,p1,throughput,create,claim,drain,rss] [--quick]
// Prints progress on stderr, then a table and one JSON line on stdout.
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createClaim } from './dispatch/create-claim.mjs';
import { drain } from './dispatch/drain.mjs';
import { latency, p1 } from './dispatch/latency.mjs';
import { cleanupAll, cpuTicks, othersCpuPct } from './dispatch/lib.mjs';
import { rss } from './dispatch/rss.mjs';
import { throughput } from './dispatch/throughput.mjs';

const SCENARIOS = {
  latency: { run: latency, about: '1. enqueue→start latency of `true` on local' },
  p1: { run: p1, about: '2. priority-1 enqueue→start behind 10,000 queued priority-5 tasks' },
  throughput: { run: throughput, about: '3. 10,000 `true` tasks vs a bare spawn loop (concurrency 4)' },
  create: { run: createClaim, about: '4a. batch create rate (no bridge)' },
  claim: { run: createClaim, about: '4b. claim latency at 1,000 vs 1,000,000 pending' },
  drain: { run: drain, about: '5. control-plane dispatch rate with simulated bridges' },
  rss: { run: rss, about: '6. peak RSS of server and standalone bridge' },
};

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

function table(rows) {
  const head = ['figure', 'value', 'target', ''];
  const cells = rows.map((r) => [
    r.figure,
    r.value,
    r.target,
    `${r.ok === null ? '' : r.ok ? 'ok' : 'BELOW TARGET'}${r.noisy ? ' (machine busy)' : ''}`.trim(),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(width[i])).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
  });
  const wanted =
    values.only === undefined ? Object.keys(SCENARIOS) : values.only.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !(w in SCENARIOS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\navailable:\n`);
    for (const [n, s] of Object.entries(SCENARIOS)) process.stderr.write(`  ${n.padEnd(11)} ${s.about}\n`);
    process.exit(2);
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      process.stderr.write(`\n${signal}: stopping servers and child processes, removing temp dirs\n`);
      await cleanupAll();
      process.exit(130);
    });
  }
  const m = machine();
  const opts = { quick: values.quick, only: new Set(wanted) };
  process.stderr.write(
    `dispatch benchmark${opts.quick ? ' (--quick: smaller counts)' : ''}: ${m.nproc} × ${m.cpu}, ` +
      `${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}\n`,
  );
  const results = {};
  const rows = [];
  const done = new Set();
  const interference = [];
  for (const name of wanted) {
    const s = SCENARIOS[name];
    if (done.has(s.run)) continue; // create and claim share one run
    done.add(s.run);
    process.stderr.write(`\n[${name}] ${s.about}\n`);
    const t0 = performance.now();
    const cpu0 = cpuTicks();
    try {
      const out = await s.run(opts);
      const ms = performance.now() - t0;
      const othersPct = othersCpuPct(cpu0, cpuTicks(), ms, m.nproc);
      process.stderr.write(`  (other processes used ${othersPct}% of the machine's CPU meanwhile)\n`);
      interference.push(`${name} ${othersPct}%`);
      results[name === 'claim' ? 'create' : name] = {
        ...out.result,
        seconds: Math.round(ms / 1000),
        othersCpuPct: othersPct,
      };
      // Another process's load on a 2-core machine makes these figures unreliable: say so in the table.
      rows.push(...out.rows.map((r) => ({ ...r, noisy: othersPct > 10 })));
    } catch (err) {
      process.stderr.write(`  ${name} failed: ${err?.stack ?? err}\n`);
      results[name] = { error: String(err?.message ?? err) };
      rows.push({ figure: name, value: 'error (see stderr)', target: '', ok: null });
    }
  }
  process.stdout.write(
    `\ndispatch benchmark — ${m.nproc} × ${m.cpu}, Node ${m.node}${opts.quick ? ' (--quick)' : ''}\n`,
  );
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write(`CPU used by other processes during each scenario: ${interference.join(', ')}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'dispatch', quick: opts.quick, machine: m, results })}\n`);
}
