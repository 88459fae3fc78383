import { Gauge, type Registry } from 'prom-client';
import type { Bridge, Machine, QueueStats } from '../../core/types.js';

type QueueLabel = 'team' | 'priority';
type MachineLabel = 'machine' | 'team' | 'region';
type BridgeLabel = 'bridge' | 'region';

/** What one scrape reads from the store: the same on every replica, since they share it. */
export interface StoreSnapshot {
  now: number;
  queue: QueueStats;
  machines: readonly Machine[];
  bridges: readonly Bridge[];
  /** A bridge seen within this long counts as up (the rule of `list bridges`). */
  bridgeOnlineWithinMs: number;
}

/**
 * Gauges set from a store snapshot at scrape time: queue counts by team and
 * priority, machine health and bridges. Reset before each fill, so a label
 * set that is gone (a deleted machine, an emptied lane) disappears.
 */
export class StoreGauges {
  private readonly gauges: Gauge[] = [];
  private readonly queue: Record<
    'pending' | 'retrying' | 'assigned' | 'running' | 'cancelling',
    Gauge<QueueLabel>
  >;
  private readonly oldestAge: Gauge<'priority'>;
  private readonly machine: Record<
    | 'online'
    | 'cpu'
    | 'load1'
    | 'memUsed'
    | 'memTotal'
    | 'diskUsed'
    | 'diskTotal'
    | 'healthAt'
    | 'running'
    | 'pending'
    | 'concurrency',
    Gauge<MachineLabel>
  >;
  private readonly bridge: Record<'up' | 'lastSeen' | 'running', Gauge<BridgeLabel>>;

  constructor(registry: Registry) {
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> => {
      const g = new Gauge<L>({ name, help, labelNames, registers: [registry] });
      this.gauges.push(g as unknown as Gauge);
      return g;
    };
    const q = ['team', 'priority'] as const;
    this.queue = {
      pending: gauge('rediacc_tasks_pending', 'Tasks waiting for a slot, by team and priority', q),
      retrying: gauge('rediacc_tasks_retrying', 'Tasks waiting out a retry delay, by team and priority', q),
      assigned: gauge('rediacc_tasks_assigned', 'Tasks handed to a bridge and not started yet', q),
      running: gauge('rediacc_tasks_running', 'Tasks running on a machine, by team and priority', q),
      cancelling: gauge('rediacc_tasks_cancelling', 'Running tasks being cancelled', q),
    };
    this.oldestAge = gauge(
      'rediacc_queue_oldest_pending_age_seconds',
      'Age of the oldest waiting task per priority (absent when none waits)',
      ['priority'] as const,
    );
    const m = ['machine', 'team', 'region'] as const;
    this.machine = {
      online: gauge('rediacc_machine_online', 'Machine reachable: 1 online, 0 offline or not yet known', m),
      cpu: gauge('rediacc_machine_cpu_percent', 'CPU use of the machine in percent (last health sample)', m),
      load1: gauge('rediacc_machine_load1', 'One-minute load average of the machine', m),
      memUsed: gauge('rediacc_machine_memory_used_bytes', 'Memory in use on the machine', m),
      memTotal: gauge('rediacc_machine_memory_total_bytes', 'Memory of the machine', m),
      diskUsed: gauge('rediacc_machine_disk_used_bytes', 'Disk space in use on the machine', m),
      diskTotal: gauge('rediacc_machine_disk_total_bytes', 'Disk space of the machine', m),
      healthAt: gauge('rediacc_machine_health_timestamp_seconds', 'When the last health sample was taken', m),
      running: gauge('rediacc_machine_running_tasks', 'Slots in use on the machine', m),
      pending: gauge('rediacc_machine_pending_tasks', 'Tasks waiting for the machine', m),
      concurrency: gauge('rediacc_machine_concurrency', 'Slots of the machine', m),
    };
    const b = ['bridge', 'region'] as const;
    this.bridge = {
      up: gauge('rediacc_bridge_up', 'Bridge seen recently: 1 up, 0 not', b),
      lastSeen: gauge('rediacc_bridge_last_seen_timestamp_seconds', 'When the bridge last called in', b),
      running: gauge('rediacc_bridge_running_tasks', 'Attempts the bridge runs', b),
    };
  }

  fill(s: StoreSnapshot): void {
    for (const g of this.gauges) g.reset();
    for (const lane of s.queue.lanes) {
      const labels = { team: lane.team, priority: String(lane.priority) };
      for (const status of ['pending', 'retrying', 'assigned', 'running', 'cancelling'] as const) {
        this.queue[status].set(labels, lane[status]);
      }
    }
    for (const [priority, ageMs] of Object.entries(s.queue.oldestPendingAgeMsByPriority)) {
      if (ageMs !== null) this.oldestAge.set({ priority }, ageMs / 1000);
    }
    for (const m of s.machines) {
      const labels = { machine: m.name, team: m.team, region: m.region };
      this.machine.online.set(labels, m.status === 'online' ? 1 : 0);
      this.machine.running.set(labels, m.running);
      this.machine.pending.set(labels, m.pending);
      this.machine.concurrency.set(labels, m.concurrency);
      const h = m.health;
      if (h === null) continue;
      const put = (g: Gauge<MachineLabel>, v: number | null) => {
        if (v !== null) g.set(labels, v);
      };
      put(this.machine.cpu, h.cpuPercent);
      put(this.machine.load1, h.load1);
      put(this.machine.memUsed, h.memUsedBytes);
      put(this.machine.memTotal, h.memTotalBytes);
      put(this.machine.diskUsed, h.diskUsedBytes);
      put(this.machine.diskTotal, h.diskTotalBytes);
      put(this.machine.healthAt, h.at / 1000);
    }
    for (const b of s.bridges) {
      const labels = { bridge: b.name, region: b.region };
      const up = b.lastSeenAt !== null && s.now - b.lastSeenAt <= s.bridgeOnlineWithinMs;
      this.bridge.up.set(labels, up ? 1 : 0);
      if (b.lastSeenAt !== null) this.bridge.lastSeen.set(labels, b.lastSeenAt / 1000);
      this.bridge.running.set(labels, b.running);
    }
  }
}
