import type { FleetService } from '../server/fleet-service.js';
import type { TaskService } from '../server/task-service.js';
import type { AttemptRef, BridgeApi, BridgeMachine, ClaimResponse, HealthReport, ReportBody } from './api.js';

/** The embedded bridge's link: direct calls into the server's task service. */
export class LocalBridgeApi implements BridgeApi {
  constructor(
    private readonly service: TaskService,
    private readonly fleet: FleetService,
    readonly name: string,
    private readonly region: string,
  ) {}

  machines(): Promise<BridgeMachine[]> {
    return this.fleet.machinesFor(this.region);
  }

  pinHostKey(machine: string, hostKey: string): Promise<void> {
    return this.fleet.pinHostKey(this.region, machine, hostKey);
  }

  health(reports: HealthReport[]): Promise<void> {
    return this.fleet.recordHealth(this.region, reports);
  }

  async claim(
    max: number,
    waitMs: number,
    stopping: AttemptRef[],
    claimId: string,
    signal?: AbortSignal,
  ): Promise<ClaimResponse> {
    const r = await this.service.claim(this.name, this.region, max, waitMs, stopping, claimId, signal);
    return { ...r, leaseMs: this.service.settings.leaseMs };
  }

  async report(body: ReportBody): Promise<{ cancel: AttemptRef[] }> {
    const outcome = await this.service.report({ bridge: this.name, ...body });
    return { cancel: outcome.cancel };
  }
}
