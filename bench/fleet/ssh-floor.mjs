// The floor under rediacc's SSH figures: commands over bare ssh2 connections that this process
// opens itself (no control plane, no bridge, no remote script unless asked for).
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import ssh2 from 'ssh2';
import { dist, preciseNow } from '../dispatch/lib.mjs';

export function connectSsh(machine, privateKey) {
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    // As the bridge's pool does: our own socket with Nagle's algorithm off.
    const sock = connect({ host: machine.host, port: machine.port });
    sock.setNoDelay(true);
    sock.once('error', reject);
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({ sock, username: machine.user, privateKey, readyTimeout: 10_000 });
  });
}

/** One exec: { total: request → close, open: channel open → close } in ms; like SshTransport with input. */
export function execOnce(client, command, input) {
  return new Promise((resolve, reject) => {
    const t0 = preciseNow();
    const timer = setTimeout(
      () => reject(new Error(`exec ${command.slice(0, 30)}: no close in 10 s`)),
      10_000,
    );
    client.exec(command, (err, ch) => {
      if (err) {
        clearTimeout(timer);
        return reject(err);
      }
      const opened = preciseNow();
      if (input !== undefined) ch.write(input);
      ch.on('exit', () => {
        if (input !== undefined) ch.end();
      });
      ch.resume();
      ch.stderr.resume();
      ch.on('close', () => {
        clearTimeout(timer);
        const end = preciseNow();
        resolve({ total: end - t0, open: end - opened });
      });
    });
  });
}

/** The bridge's remote script around `command`, and its stdin preamble (REDIACC_* variables). */
export async function scriptedExec() {
  const { remoteScript, envPreamble } = await dist('bridge/transports/remote-script.js');
  return (command) => ({
    command: remoteScript(randomUUID(), command, 3),
    input: envPreamble({ REDIACC_TASK_ID: randomUUID(), REDIACC_ATTEMPT: '1' }),
  });
}

/**
 * A warm fan-out without rediacc: one ssh2 connection per machine opened beforehand, then `runs`
 * times `true` on all at once, bare and inside the remote script. Returns wall ms per run.
 */
export async function fanOutFloor(entries, runs) {
  const clients = await Promise.all(
    entries.map(({ machine, fleet }) => connectSsh(machine, fleet.clientKeyPrivate)),
  );
  const wrap = await scriptedExec();
  const once = async (scripted) => {
    const t0 = performance.now();
    await Promise.all(
      clients.map((c) => {
        if (!scripted) return execOnce(c, 'true');
        const s = wrap('true');
        return execOnce(c, s.command, s.input);
      }),
    );
    return performance.now() - t0;
  };
  try {
    const bare = [];
    const script = [];
    await once(false); // the first channel on a connection costs a little more
    for (let i = 0; i < runs; i++) {
      bare.push(await once(false));
      script.push(await once(true));
    }
    return { bare, script };
  } finally {
    for (const c of clients) c.end();
  }
}
