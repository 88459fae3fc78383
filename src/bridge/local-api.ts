import type { TaskService } from '../server/task-service.js';
import type { AttemptRef, BridgeApi, ClaimResponse, ReportBody } from './api.js';

/** The embedded bridge's link: direct calls into the server's task service. */
export class LocalBridgeApi implements BridgeApi {
  constructor(
    private readonly service: TaskService,
    readonly name: string,
    private readonly region: string,
  ) {}

  async claim(
    max: number,
    waitMs: number,
    stopping: AttemptRef[],
    signal?: AbortSignal,
  ): Promise<ClaimResponse> {
    const r = await this.service.claim(this.name, this.region, max, waitMs, stopping, signal);
    return { ...r, leaseMs: this.service.settings.leaseMs };
  }

  async report(body: ReportBody): Promise<{ cancel: AttemptRef[] }> {
    const outcome = await this.service.report({ bridge: this.name, ...body });
    return { cancel: outcome.cancel };
  }
}
