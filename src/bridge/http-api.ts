import { AppError } from '../core/errors.js';
import type { AttemptRef, BridgeApi, BridgeMachine, ClaimResponse, HealthReport, ReportBody } from './api.js';

/** The standalone bridge's link to the control plane over HTTP. */
export class HttpBridgeApi implements BridgeApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    readonly name: string,
  ) {}

  claim(max: number, waitMs: number, stopping: AttemptRef[], signal?: AbortSignal): Promise<ClaimResponse> {
    return this.post('/api/v1/bridge/claim', { max, waitMs, stopping }, signal) as Promise<ClaimResponse>;
  }

  report(body: ReportBody): Promise<{ cancel: AttemptRef[] }> {
    return this.post('/api/v1/bridge/report', body) as Promise<{ cancel: AttemptRef[] }>;
  }

  machines(): Promise<BridgeMachine[]> {
    return this.post('/api/v1/bridge/machines', undefined) as Promise<BridgeMachine[]>;
  }

  async pinHostKey(machine: string, hostKey: string): Promise<void> {
    await this.post('/api/v1/bridge/host-key', { machine, hostKey });
  }

  async health(reports: HealthReport[]): Promise<void> {
    await this.post('/api/v1/bridge/health', { reports });
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await res.text();
    if (!res.ok) {
      let code = 'HTTP_ERROR';
      let message = text;
      try {
        const e = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = e.error?.code ?? code;
        message = e.error?.message ?? message;
      } catch {}
      throw new AppError(code, `${path}: ${res.status} ${message}`, res.status);
    }
    return JSON.parse(text);
  }
}
