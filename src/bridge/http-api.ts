import { AppError } from '../core/errors.js';
import type { AttemptRef, BridgeApi, BridgeMachine, ClaimResponse, HealthReport, ReportBody } from './api.js';

/**
 * The standalone bridge's link to the control plane over HTTP. Given several
 * replicas' URLs it moves to the next one when a call finds its replica gone
 * or unavailable (503); the caller retries.
 */
export class HttpBridgeApi implements BridgeApi {
  private readonly urls: string[];
  private current = 0;

  constructor(
    baseUrls: string | string[],
    private readonly token: string,
    readonly name: string,
  ) {
    this.urls = (Array.isArray(baseUrls) ? baseUrls : baseUrls.split(','))
      .map((u) => u.trim())
      .filter((u) => u !== '');
    if (this.urls.length === 0) throw new AppError('USAGE', 'a bridge needs the control plane URL', 2);
  }

  private get baseUrl(): string {
    return this.urls[this.current % this.urls.length] as string;
  }

  private failOver(): void {
    this.current = (this.current + 1) % this.urls.length;
  }

  claim(
    max: number,
    waitMs: number,
    stopping: AttemptRef[],
    claimId: string,
    signal?: AbortSignal,
  ): Promise<ClaimResponse> {
    return this.post(
      '/api/v1/bridge/claim',
      { max, waitMs, stopping, claimId },
      signal,
    ) as Promise<ClaimResponse>;
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
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      // That replica is gone: the next call goes to the next URL.
      if (signal?.aborted !== true) this.failOver();
      throw err;
    }
    const text = await res.text();
    if (!res.ok) {
      if (res.status === 503) this.failOver();
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
