// Runs one command on a fleet machine with the system OpenSSH client: the independent, known-good
// way for tests to look at a machine (the code under test has its own SSH transport).
import { spawn } from 'node:child_process';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  keyFile: string;
}

export interface ExecOptions {
  /** ssh -o ConnectTimeout: bounds TCP connect and the SSH banner exchange. Default 5 s. */
  connectTimeoutSec?: number;
  /** Hard limit for the whole call; the ssh client is killed after it. Default 30 s. */
  timeoutMs?: number;
  /** Text written to the remote command's stdin (stdin is closed either way). */
  input?: string;
}

export interface ExecResult {
  /** Exit code of the remote command; 255 when ssh itself failed; null when killed by timeoutMs. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Client options shared by exec and the peer tools: no prompts, no known_hosts, no user config. */
export function sshClientOptions(keyFile: string, connectTimeoutSec = 5): string[] {
  return [
    '-F',
    '/dev/null', // ignore ~/.ssh/config and /etc/ssh/ssh_config, whatever is on the machine
    '-i',
    keyFile,
    '-o',
    'IdentitiesOnly=yes', // only our key, not an agent's or ~/.ssh/id_*
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR', // no "Permanently added … to the list of known hosts" on every call
    '-o',
    `ConnectTimeout=${connectTimeoutSec}`,
  ];
}

export function sshExec(target: SshTarget, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  const args = [
    ...sshClientOptions(target.keyFile, options.connectTimeoutSec ?? 5),
    '-p',
    String(target.port),
    '-l',
    target.user,
    target.host,
    '--',
    command,
  ];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // EPIPE when the remote side never reads its input
    child.stdin.end(options.input ?? '');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? null : code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}
