// npm run bench -- fleet [--only fanout,overhead,memory] [--quick] [--memory-machines N]
// rediacc against parallel-ssh, pdsh and ansible on one SSH test fleet (test/fleet: real sshd on
// 127.0.0.2…). Progress on stderr, then a table and one JSON line on stdout.
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { cleanupAll } from './dispatch/lib.mjs';
import { fanout } from './fleet/fanout.mjs';
import { memory } from './fleet/memory.mjs';
import { overhead } from './fleet/overhead.mjs';

const SCENARIOS = {
  fanout: { run: fanout, about: '1+2. `true` on 50 machines, cold and warm, vs parallel-ssh, pdsh, ansible' },
  overhead: { run: overhead, about: '3. per-task overhead of sequential `true` tasks on one warm machine' },
  memory: {
    run: memory,
    about: '4. server RSS with an open SSH connection to each of --memory-machines (500)',
  },
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

/** CPU ticks (1/100 s) of the whole machine, and of this process with its reaped descendants. */
function cpuTicks() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // utime, stime, cutime, cstime: fields 14-17 of /proc/self/stat, i.e. 12-15 after "pid (comm) ".
  const own = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);
  return { busy: user + nice + system + irq + softirq + steal, mine: own[11] + own[12] + own[13] + own[14] };
}

/**
 * Share (%) of the machine's CPU used outside this benchmark: its fleets, servers and peer tools are
 * its descendants, reaped by the end of each scenario, so they count as its own.
 */
function othersPct(a, b, ms, cores) {
  return Math.max(0, Math.round(((b.busy - a.busy - (b.mine - a.mine)) / ((ms / 1000) * 100 * cores)) * 100));
}

function table(rows) {
  const head = ['figure', 'value', 'target', ''];
  const cells = rows.map((r) => [r.figure, r.value, r.target, r.ok === null ? '' : r.ok ? 'ok' : 'MISSED']);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(width[i])).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'memory-machines': { type: 'string', default: '500' },
    },
  });
  const wanted =
    values.only === undefined ? Object.keys(SCENARIOS) : values.only.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !(w in SCENARIOS));
  const memoryMachines = Number(values['memory-machines']);
  if (
    unknown.length > 0 ||
    !Number.isInteger(memoryMachines) ||
    memoryMachines < 1 ||
    memoryMachines > 1000
  ) {
    process.stderr.write(`unknown scenario(s) ${unknown.join(', ')} or --memory-machines not in 1..1000\n`);
    for (const [n, s] of Object.entries(SCENARIOS)) process.stderr.write(`  ${n.padEnd(9)} ${s.about}\n`);
    process.exit(2);
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      process.stderr.write(`\n${signal}: stopping servers, fleets and peers, removing temp dirs\n`);
      await cleanupAll();
      process.exit(130);
    });
  }
  const m = machine();
  const opts = { quick: values.quick, memoryMachines };
  process.stderr.write(
    `fleet benchmark${opts.quick ? ' (--quick)' : ''}: ${m.nproc} × ${m.cpu}, ${m.memGiB} GiB, ` +
      `Linux ${m.kernel}, Node ${m.node}\n`,
  );
  const results = {};
  const rows = [];
  for (const name of wanted) {
    const s = SCENARIOS[name];
    process.stderr.write(`\n[${name}] ${s.about}\n`);
    const t0 = performance.now();
    const cpu0 = cpuTicks();
    try {
      const out = await s.run(opts);
      const ms = performance.now() - t0;
      const others = othersPct(cpu0, cpuTicks(), ms, m.nproc);
      process.stderr.write(`  (other processes used ${others}% of the machine's CPU meanwhile)\n`);
      results[name] = { ...out.result, seconds: Math.round(ms / 1000), othersCpuPct: others };
      rows.push(...out.rows);
    } catch (err) {
      process.stderr.write(`  ${name} failed: ${err?.stack ?? err}\n`);
      results[name] = { error: String(err?.message ?? err) };
      rows.push({ figure: name, value: 'error (see stderr)', target: '', ok: null });
    }
  }
  process.stdout.write(
    `\nfleet benchmark — ${m.nproc} × ${m.cpu}, Node ${m.node}${opts.quick ? ' (--quick)' : ''}\n`,
  );
  process.stdout.write(`${table(rows)}\n`);
  const busy = Object.entries(results).map(([k, r]) => `${k} ${r.othersCpuPct ?? '?'}%`);
  process.stdout.write(`CPU used by other processes during each scenario: ${busy.join(', ')}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'fleet', quick: opts.quick, machine: m, results })}\n`);
}
