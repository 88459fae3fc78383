import type { Assignment, FailureReason, OutputStream } from '../core/types.js';
import type { BridgeMachine } from '../server/fleet-service.js';
import type { HealthReport } from '../store/store.js';

export type { BridgeMachine, HealthReport };

export interface AttemptRef {
  taskId: string;
  attempt: number;
}

export interface ClaimResponse {
  tasks: Assignment[];
  cancel: AttemptRef[];
  leaseMs: number;
}

export interface ReportBody {
  started: (AttemptRef & { at: number })[];
  output: (AttemptRef & { chunk: number; stream: OutputStream; at: number; data: string })[];
  results: (AttemptRef & {
    at: number;
    exitCode: number | null;
    signal: string | null;
    reason: Extract<
      FailureReason,
      'TIMEOUT' | 'SPAWN_FAILED' | 'MACHINE_UNREACHABLE' | 'AUTH_FAILED' | 'HOST_KEY_MISMATCH' | 'LOST'
    > | null;
  })[];
  running: AttemptRef[];
}

/**
 * How a bridge talks to the control plane. The standalone bridge uses HTTP;
 * the server's embedded bridge calls the same service in process. The bridge
 * code above this interface is the same for both.
 */
export interface BridgeApi {
  readonly name: string;
  /**
   * Claims up to `max` tasks, waiting up to `waitMs` for work or for a
   * cancellation not in `stopping` (attempts the bridge is already stopping).
   * `claimId` names the request: a retry after a lost answer reuses it and
   * gets back what the lost answer held.
   */
  claim(
    max: number,
    waitMs: number,
    stopping: AttemptRef[],
    claimId: string,
    signal?: AbortSignal,
  ): Promise<ClaimResponse>;
  report(body: ReportBody): Promise<{ cancel: AttemptRef[] }>;
  /** The machines of the bridge's region, to probe their health. */
  machines(): Promise<BridgeMachine[]>;
  pinHostKey(machine: string, hostKey: string): Promise<void>;
  health(reports: HealthReport[]): Promise<void>;
}
