import type { Logger } from 'pino';
import { conflict } from '../core/errors.js';
import { MINUTE_MS } from '../core/time.js';
import type { Transport } from '../core/types.js';
import type { HealthReport, Store } from '../store/store.js';
import type { Bus } from './bus.js';

/** What a bridge needs to reach and probe the machines of its region. */
export interface BridgeMachine {
  name: string;
  team: string;
  transport: Transport;
  host: string | null;
  port: number | null;
  user: string | null;
  hostKey: string | null;
  sshKey: { key: string; version: number; ciphertext: string } | null;
  vault: { kdf: string; teamKey: string } | null;
}

/** Machine health, offline detection and host key pinning, for bridges and the sweeper. */
export class FleetService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  async machinesFor(region: string): Promise<BridgeMachine[]> {
    const machines = await this.store.listMachines({ region });
    const master = await this.store.vault.getMaster();
    const teamKeys = new Map<string, string | null>();
    const out: BridgeMachine[] = [];
    for (const m of machines) {
      let sshKey: BridgeMachine['sshKey'] = null;
      let vault: BridgeMachine['vault'] = null;
      if (m.transport === 'ssh') {
        const s = await this.store.vault.getSecret(m.team, `ssh/${m.name}`);
        if (!teamKeys.has(m.team)) teamKeys.set(m.team, await this.store.vault.getTeamKey(m.team));
        const teamKey = teamKeys.get(m.team) ?? null;
        if (s !== null) sshKey = { key: s.name, version: s.version, ciphertext: s.ciphertext };
        if (master !== null && teamKey !== null) vault = { kdf: master.kdf, teamKey };
      }
      out.push({
        name: m.name,
        team: m.team,
        transport: m.transport,
        host: m.host,
        port: m.port,
        user: m.user,
        hostKey: m.hostKey,
        sshKey,
        vault,
      });
    }
    return out;
  }

  async pinHostKey(region: string, machine: string, hostKey: string): Promise<void> {
    const m = await this.store.getMachine(machine);
    if (m === null || m.region !== region)
      throw conflict('MACHINE_NOT_IN_REGION', `machine '${machine}' is not served by this bridge`);
    if (!(await this.store.fleet.pinHostKey(machine, hostKey, this.clock()))) {
      throw conflict('HOST_KEY_MISMATCH', `machine '${machine}' has another host key pinned`);
    }
    this.log.info({ machine, team: m.team }, 'host key pinned on first use');
  }

  async recordHealth(region: string, reports: HealthReport[]): Promise<void> {
    const mine = new Set((await this.store.listMachines({ region })).map((m) => m.name));
    const back = await this.store.fleet.recordHealth(
      reports.filter((r) => mine.has(r.machine)),
      this.clock(),
    );
    for (const b of back) this.log.info({ machine: b.machine, team: b.team }, 'machine back online');
    // Tasks placed by selector skip offline machines: a machine back online may take work.
    if (back.length > 0) this.bus.publish(`region:${region}`, { type: 'wake' });
  }

  async markOffline(offlineAfterMs: number): Promise<void> {
    const gone = await this.store.fleet.markOffline(this.clock(), offlineAfterMs);
    for (const g of gone) this.log.warn({ machine: g.machine, team: g.team }, 'machine offline');
  }

  async alertOldKeys(): Promise<void> {
    for (const machine of await this.store.fleet.alertOldKeys(this.clock())) {
      this.log.warn({ machine }, 'SSH key older than the team allows');
    }
  }

  async prune(retentionMs = 24 * 60 * MINUTE_MS): Promise<void> {
    await this.store.fleet.pruneHealth(Math.floor((this.clock() - retentionMs) / MINUTE_MS));
  }
}
