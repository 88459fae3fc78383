// Public shapes of the SSH test fleet (see fleet.ts for startFleet).
import type { ExecOptions, ExecResult } from './ssh-exec.js';

export type { ExecOptions, ExecResult } from './ssh-exec.js';

export type MachineState = 'running' | 'paused' | 'stopped';

export interface FleetOptions {
  /** Number of machines, 1..250. */
  size: number;
  /** First port to try; default a random port in [20000, 31000). Ports are checked to be free. */
  basePort?: number;
  /** How long to wait for each sshd to serve its banner. Default 10 s. */
  readyTimeoutMs?: number;
}

/**
 * One machine: its own sshd on its own loopback address. The object is live: hostKey*, pid and
 * state change in place on restart / regenerateHostKey / stop / pause.
 */
export interface FleetMachine {
  /** "fleet-01", "fleet-02", … */
  readonly name: string;
  /** 127.0.0.2, 127.0.0.3, … (one address per machine). */
  readonly host: string;
  readonly port: number;
  /** The OS account to log in as (shared by all machines): "rdctest". */
  readonly user: string;
  /** OpenSSH public key line of the host key, "ssh-ed25519 AAAA… fleet-01-host". */
  readonly hostKeyPublic: string;
  /** "SHA256:…" as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** pid of the current (or last) sshd listener. */
  readonly pid: number;
  readonly state: MachineState;
  /** The machine's private directory (sshd_config, host key, pid file). */
  readonly dir: string;
  /** The machine's $HOME (set per machine with SetEnv), owned by the test user. */
  readonly home: string;
  /** `<home>/.ssh/authorized_keys`, this machine's AuthorizedKeysFile. */
  readonly authorizedKeysFile: string;
}

export interface StopOptions {
  /**
   * false (default): the machine goes down: sshd, its open connections and every command started
   * through it are terminated (SIGTERM, then SIGKILL after 3 s).
   * true: only the sshd listener is stopped, like `systemctl stop ssh`: open connections and their
   * commands go on.
   */
  keepProcesses?: boolean;
}

export interface Fleet {
  /** Random id, also in every session's environment as RDC_FLEET_ID. */
  readonly id: string;
  /** Temp directory holding everything of this fleet; removed by close(). */
  readonly dir: string;
  readonly user: string;
  readonly machines: readonly FleetMachine[];
  /** OpenSSH private key text, ed25519, no passphrase, authorised on every machine. */
  readonly clientKeyPrivate: string;
  readonly clientKeyPublic: string;
  /** Path of the private key file, mode 0600. */
  readonly clientKeyFile: string;
  /** The machine by name; throws for an unknown name. */
  machine(name: string): FleetMachine;
  /** SIGTERM and wait (SIGKILL after 3 s). No-op when already stopped. */
  stop(name: string, options?: StopOptions): Promise<void>;
  /** SIGSTOP the machine's sshd and everything it runs: connections hang, nothing is refused. */
  pause(name: string): Promise<void>;
  /** SIGCONT what pause() stopped. */
  resume(name: string): Promise<void>;
  /** (Stop if needed and) start again: same address, port and host key. */
  restart(name: string): Promise<void>;
  /**
   * Restarts the machine's sshd reading authorized keys from `file` instead of
   * `<home>/.ssh/authorized_keys`: keys added there no longer let anyone in.
   */
  readKeysFrom(name: string, file: string): Promise<void>;
  /** New host key, then restart: clients that pinned the old key must see a mismatch. */
  regenerateHostKey(name: string): Promise<void>;
  /** Runs a command there with the system ssh client and the fleet's client key. */
  exec(name: string, command: string, options?: ExecOptions): Promise<ExecResult>;
  /** The machine's authorized_keys content. */
  authorizedKeys(name: string): string;
  /** Replaces the machine's authorized_keys content (the others are unaffected). */
  setAuthorizedKeys(name: string, content: string): void;
  /** Stops every machine and removes the temp directory. Safe to call twice. */
  close(): Promise<void>;
}
