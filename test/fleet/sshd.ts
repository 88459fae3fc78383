// One real OpenSSH sshd: its config file, the foreground process, and the readiness check.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export const SSHD_BINARY = '/usr/sbin/sshd';

export interface SshdSpec {
  name: string;
  host: string;
  port: number;
  configFile: string;
  hostKeyFile: string;
  pidFile: string;
  authorizedKeysFile: string;
  user: string;
  /** Variables every session on this machine gets (SetEnv, OpenSSH >= 8.7). */
  env: Record<string, string>;
}

/** sftp-server comes with Debian's openssh-server; offered so SFTP-based transports can be tested. */
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export function writeSshdConfig(spec: SshdSpec): void {
  const setEnv = Object.entries(spec.env)
    .map(([k, v]) => `"${k}=${v}"`)
    .join(' ');
  const lines = [
    `# fleet machine ${spec.name}: written by test/fleet/sshd.ts`,
    `ListenAddress ${spec.host}:${spec.port}`,
    `HostKey ${spec.hostKeyFile}`,
    `PidFile ${spec.pidFile}`,
    // Per machine, so one machine's keys can be rotated without touching the others.
    `AuthorizedKeysFile ${spec.authorizedKeysFile}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The files live in temp dirs that sshd's ownership checks would reject.
    'StrictModes no',
    // Many parallel sessions/handshakes per machine: the defaults (10, 10:30:100) drop connections.
    'MaxSessions 64',
    'MaxStartups 200',
    'LogLevel ERROR',
    `AllowUsers ${spec.user}`,
    'PermitRootLogin no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // All machines share one OS user; this is how a session knows which machine it is on.
    `SetEnv ${setEnv}`,
    `Subsystem sftp ${SFTP_SERVER}`,
    '',
  ];
  writeFileSync(spec.configFile, lines.join('\n'), { mode: 0o644 });
}

export interface RunningSshd {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited and been reaped. */
  exited: Promise<void>;
  hasExited(): boolean;
  /** Last stderr lines (sshd -e logs there), for error messages. */
  stderrTail(): string;
}

/** Starts `sshd -D -e -f config` and resolves once it answers with an SSH banner. */
export async function launchSshd(spec: SshdSpec, readyTimeoutMs: number): Promise<RunningSshd> {
  // -D: stay in the foreground as our child; -e: log to stderr instead of syslog.
  // setpriv --pdeathsig (util-linux) then execs sshd with "SIGKILL me when my parent dies": a test
  // process killed without running close() (vitest ends its workers without an 'exit' event)
  // must not leave sshd listeners behind. The pid stays sshd's own, as setpriv execs in place.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', SSHD_BINARY, '-D', '-e', '-f', spec.configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    tail = (tail + s).slice(-4000);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('close', () => {
      exited = true;
      resolve();
    });
    child.on('error', (e) => {
      tail += `\nspawn error: ${e.message}`;
      exited = true;
      resolve();
    });
  });
  const running: RunningSshd = {
    child,
    pid: child.pid ?? -1,
    exited: exitedPromise,
    hasExited: () => exited,
    stderrTail: () => tail.trim(),
  };
  try {
    await waitForBanner(spec.host, spec.port, readyTimeoutMs, () => exited);
  } catch (e) {
    if (!exited) child.kill('SIGKILL');
    await exitedPromise;
    const why = running.stderrTail() || (e as Error).message;
    throw new Error(`fleet: sshd for ${spec.name} on ${spec.host}:${spec.port} did not start: ${why}`);
  }
  return running;
}

/** One attempt: TCP connect, then read until the server's "SSH-2.0-" identification line arrives. */
function probeBanner(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('data', (b: Buffer) => {
      data += b.toString('latin1');
      if (data.includes('SSH-2.0-')) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

export async function waitForBanner(
  host: string,
  port: number,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gaveUp()) throw new Error('sshd exited');
    if (await probeBanner(host, port, Math.min(1000, Math.max(50, deadline - Date.now())))) return;
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error(`no SSH banner within ${timeoutMs} ms`);
}

/** True when nothing listens on host:port (checked by binding it for a moment). */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Claims a free port at or above `from` for `host`: skips and then adds to `taken`, which callers
 * share so machines started concurrently never pick the same port.
 */
export async function findFreePort(host: string, from: number, taken: Set<number>): Promise<number> {
  for (let port = from; port < 65536; port++) {
    if (taken.has(port)) continue;
    // Re-check `taken` after the await: a concurrent caller may have claimed the port meanwhile.
    if ((await portIsFree(host, port)) && !taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`fleet: no free port on ${host} from ${from}`);
}
