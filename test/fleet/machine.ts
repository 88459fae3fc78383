// One fleet machine: a directory with its own sshd_config, host key, $HOME and authorized_keys,
// and the lifecycle of its sshd (start, stop, pause, resume) as a test wants to see it.
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from './keys.js';
import {
  isAlive,
  listProcesses,
  type ProcInfo,
  processesWithEnv,
  processInfo,
  processState,
  processTree,
  signalAll,
  uniqueProcs,
  waitAllGone,
} from './proc.js';
import { launchSshd, type RunningSshd, type SshdSpec, writeSshdConfig } from './sshd.js';
import type { TestUser } from './test-user.js';
import type { FleetMachine, MachineState, StopOptions } from './types.js';

export type MutableMachineInfo = { -readonly [K in keyof FleetMachine]: FleetMachine[K] };

const STOP_GRACE_MS = 3000;

export class Machine {
  readonly info: MutableMachineInfo;
  private sshd: RunningSshd | undefined;
  private pausedProcs: ProcInfo[] = [];
  private listenerStartTime: string | undefined;
  private readonly envTags: string[];

  constructor(
    readonly spec: SshdSpec,
    private readonly user: TestUser,
    home: string,
    dir: string,
  ) {
    this.info = {
      name: spec.name,
      host: spec.host,
      port: spec.port,
      user: user.name,
      hostKeyPublic: '',
      hostKeyFingerprint: '',
      pid: -1,
      state: 'stopped',
      dir,
      home,
      authorizedKeysFile: spec.authorizedKeysFile,
    };
    // Every session (and whatever it leaves running) carries these, see processesWithEnv.
    this.envTags = ['RDC_FLEET_ID', 'RDC_FLEET_MACHINE'].map((k) => `${k}=${spec.env[k]}`);
  }

  /** Creates the machine's files: host key, $HOME/.ssh/authorized_keys (owned by the test user). */
  async prepare(clientPublicKey: string): Promise<void> {
    mkdirSync(this.info.dir, { recursive: true, mode: 0o755 });
    // The home belongs to the test user so commands run there can edit their own authorized_keys
    // (key rotation) and keep state, separately from the other machines.
    const sshDir = join(this.info.home, '.ssh');
    mkdirSync(sshDir, { recursive: true, mode: 0o700 });
    writeFileSync(this.info.authorizedKeysFile, `${clientPublicKey}\n`, { mode: 0o600 });
    for (const path of [this.info.home, sshDir, this.info.authorizedKeysFile]) {
      chownSync(path, this.user.uid, this.user.gid);
    }
    await this.newHostKey();
  }

  async newHostKey(): Promise<void> {
    const key = await generateKey(this.spec.hostKeyFile, `${this.info.name}-host`);
    this.info.hostKeyPublic = key.publicKey;
    this.info.hostKeyFingerprint = key.fingerprint;
  }

  /** Writes the config for the current port and starts sshd; resolves once it serves a banner. */
  async start(readyTimeoutMs: number): Promise<void> {
    if (this.info.state !== 'stopped')
      throw new Error(`fleet: ${this.info.name} is already ${this.info.state}`);
    writeSshdConfig({ ...this.spec, port: this.info.port });
    this.sshd = await launchSshd({ ...this.spec, port: this.info.port }, readyTimeoutMs);
    this.info.pid = this.sshd.pid;
    this.listenerStartTime = processInfo(this.sshd.pid)?.startTime;
    this.info.state = 'running';
  }

  /** The listener, its connection handlers, and every command a session on this machine started. */
  private ourProcesses(): ProcInfo[] {
    const table = listProcesses();
    // Only while our listener is alive: once it exited, its pid may belong to someone else.
    const listener = this.sshd === undefined ? undefined : processInfo(this.sshd.pid);
    const ours = listener !== undefined && listener.startTime === this.listenerStartTime;
    const tree = ours ? processTree(listener.pid, table) : [];
    return uniqueProcs(tree, processesWithEnv(this.envTags, table));
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const sshd = this.sshd;
    if (sshd === undefined || this.info.state === 'stopped') return;
    const procs = options.keepProcesses ? [] : this.ourProcesses();
    if (!sshd.hasExited()) {
      sshd.child.kill('SIGTERM');
      sshd.child.kill('SIGCONT');
    }
    signalAll(procs, 'SIGTERM');
    // A paused (SIGSTOPped) process acts on SIGTERM only once it runs again. With keepProcesses,
    // sessions frozen by pause() are thawed and otherwise left alone.
    signalAll(uniqueProcs(procs, this.pausedProcs), 'SIGCONT');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([sshd.exited, new Promise((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (!sshd.hasExited()) sshd.child.kill('SIGKILL');
    await sshd.exited;
    if (!options.keepProcesses) {
      // Whatever ignored SIGTERM, and anything forked after the snapshot, gets SIGKILL.
      const stubborn = await waitAllGone(procs, STOP_GRACE_MS);
      const rest = uniqueProcs(stubborn, this.ourProcesses());
      signalAll(rest, 'SIGKILL');
      await waitAllGone(rest, STOP_GRACE_MS);
    }
    this.pausedProcs = [];
    this.info.state = 'stopped';
  }

  async pause(): Promise<void> {
    if (this.info.state !== 'running')
      throw new Error(`fleet: cannot pause ${this.info.name}: it is ${this.info.state}`);
    this.pausedProcs = this.ourProcesses();
    signalAll(this.pausedProcs, 'SIGSTOP');
    // Signals are asynchronous: wait until the listener is really stopped, so the next
    // connection attempt in the test deterministically hangs.
    const listener = this.pausedProcs.find((p) => p.pid === this.info.pid);
    const deadline = Date.now() + 2000;
    while (listener !== undefined && processState(listener.pid) !== 'T' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.info.state = 'paused';
  }

  async resume(): Promise<void> {
    if (this.info.state !== 'paused')
      throw new Error(`fleet: cannot resume ${this.info.name}: it is ${this.info.state}`);
    signalAll(uniqueProcs(this.pausedProcs, this.ourProcesses()), 'SIGCONT');
    this.pausedProcs = [];
    this.info.state = 'running';
  }

  /** Synchronous last resort for process 'exit': SIGKILL everything of this machine. */
  killNow(): void {
    const procs = this.ourProcesses().filter(isAlive);
    signalAll(procs, 'SIGKILL');
  }

  authorizedKeys(): string {
    return readFileSync(this.info.authorizedKeysFile, 'utf8');
  }

  setAuthorizedKeys(content: string): void {
    // Write in place: keeps owner and mode, which the test user needs to read the file.
    writeFileSync(this.info.authorizedKeysFile, content);
  }

  get state(): MachineState {
    return this.info.state;
  }
}
