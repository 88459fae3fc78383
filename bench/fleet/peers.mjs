// The peer tools on the same fleet, with test/fleet/peers.ts's verified command lines:
// parallel-ssh and pdsh open a new SSH connection per host on every run; ansible (its default
// ssh_args: ControlMaster=auto, ControlPersist=60s) reuses a master connection on a second run.
import { readdirSync, readFileSync } from 'node:fs';
import { log } from '../dispatch/lib.mjs';
import { loadHarness } from './harness.mjs';

const RUN_TIMEOUT_MS = 120_000;

/** The peers installed here: [{ tool, build(command) → PeerCommand }]; missing ones are logged. */
export async function peerTools(fleet, dir) {
  const { peers } = await loadHarness();
  const files = peers.writePeerFiles(fleet, dir);
  const pssh = peers.findBinary('parallel-ssh', 'pssh');
  const all = [
    ['parallel-ssh', pssh, (c) => peers.psshCommand(fleet, files, c, pssh)],
    ['pdsh', peers.findBinary('pdsh'), (c) => peers.pdshCommand(fleet, files, c)],
    ['ansible', peers.findBinary('ansible'), (c) => peers.ansibleCommand(fleet, files, c)],
  ];
  for (const [tool, binary] of all) {
    if (binary === undefined) log(`${tool}: not installed (apt-get install -y pssh pdsh ansible); skipped`);
  }
  return all
    .filter(([, binary]) => binary !== undefined)
    .map(([tool, , build]) => ({ tool, build, describe: peers.describeCommand(build('true')) }));
}

async function runChecked(cmd, expectHosts) {
  const { peers } = await loadHarness();
  const r = await peers.runPeer(cmd, RUN_TIMEOUT_MS);
  if (r.code !== 0) {
    throw new Error(`${cmd.tool} exited ${r.code}: ${(r.stderr + r.stdout).slice(-600)}`);
  }
  // ansible -o prints one line per host; parallel-ssh -i a [SUCCESS] line per host.
  // pdsh exits 0 even when a host fails; it reports "ssh exited with exit code N" on stderr then.
  const count = (text, re) => (text.match(re) ?? []).length;
  const seen =
    cmd.tool === 'ansible'
      ? count(r.stdout, /\| CHANGED \|/g)
      : cmd.tool === 'parallel-ssh'
        ? count(r.stdout, /\[SUCCESS\]/g)
        : expectHosts - count(r.stderr, /exited with exit code/g);
  if (seen !== expectHosts) throw new Error(`${cmd.tool}: ${seen}/${expectHosts} hosts succeeded`);
  return r.wallMs;
}

/** pids of the ssh control masters ansible left in `controlDir` (their title names the socket). */
function mastersIn(controlDir) {
  const pids = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`${controlDir}/`)) pids.push(Number(e));
    } catch {}
  }
  return pids;
}

/**
 * One repetition for one tool: a first run and a second run right after it, each `true` on every
 * machine. ansible's first run starts with an empty control dir (cold); its second reuses the
 * masters (ControlPersist), which are stopped afterwards. Returns { first, second } wall ms.
 */
export async function runPeerTwice(peer, hosts, controlDir) {
  const cmd = peer.build('true');
  if (peer.tool === 'ansible') cmd.env = { ...cmd.env, ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir };
  try {
    const first = await runChecked(cmd, hosts);
    const second = await runChecked(cmd, hosts);
    return { first, second };
  } finally {
    if (peer.tool === 'ansible') {
      for (const pid of mastersIn(controlDir)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
      }
    }
  }
}
