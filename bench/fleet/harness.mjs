// The SSH test fleet (test/fleet, TypeScript) for the benchmark: compiled once per run with the
// project's own tsc into a temp folder, then imported. Fleets hold at most 250 machines, so larger
// sets are several fleets side by side (same loopback addresses, other ports).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, onCleanup, ROOT, tempDir } from '../dispatch/lib.mjs';

const FLEET_MAX = 250;
let loaded;

/** { startFleet, peers } from test/fleet, compiled with tsc into a temp folder (removed at exit). */
export function loadHarness() {
  loaded ??= (async () => {
    const out = tempDir('fleet-harness');
    onCleanup(() => rmSync(out, { recursive: true, force: true }));
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
    const src = join(ROOT, 'test', 'fleet');
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = [
      '--outDir',
      out,
      '--rootDir',
      src,
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
    ];
    flags.push('--target', 'ES2022', '--types', 'node', '--skipLibCheck', '--strict');
    execFileSync(process.execPath, [tsc, ...flags, join(src, 'fleet.ts'), join(src, 'peers.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // The compiled files are ES modules; outside the repository nothing says so.
    writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
    const load = (f) => import(pathToFileURL(join(out, f)).href);
    return { ...(await load('fleet.js')), peers: await load('peers.js') };
  })();
  return loaded;
}

/**
 * `size` machines as one or more fleets of at most 250, started one after the other.
 * Returns { fleets, machines: [{ fleet, machine, name }], close() }; names are unique across fleets
 * ("f1-fleet-001"), and the client key is shared within each fleet.
 */
export async function startFleets(size) {
  const { startFleet } = await loadHarness();
  const fleets = [];
  const close = onCleanup(() => Promise.allSettled(fleets.map((f) => f.close())));
  try {
    for (let left = size; left > 0; left -= FLEET_MAX) {
      const t0 = performance.now();
      const fleet = await startFleet({ size: Math.min(FLEET_MAX, left), readyTimeoutMs: 30_000 });
      fleets.push(fleet);
      log(
        `fleet ${fleets.length}: ${fleet.machines.length} sshd in ${Math.round(performance.now() - t0)} ms`,
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  const machines = fleets.flatMap((fleet, i) =>
    fleet.machines.map((machine) => ({
      fleet,
      machine,
      name: fleets.length === 1 ? machine.name : `f${i + 1}-${machine.name}`,
    })),
  );
  return { fleets, machines, close };
}
