import type { ClientSettings } from './config.js';
import { CliError } from './errors.js';

export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/** The CLI's HTTP client: JSON in and out, API errors turned into CliError. */
export class ApiClient {
  constructor(private readonly settings: ClientSettings) {}

  get baseUrl(): string {
    return this.settings.url;
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.settings.token !== null) h.authorization = `Bearer ${this.settings.token}`;
    if (json) h['content-type'] = 'application/json';
    return h;
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.settings.url}/api/v1${path}`, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(
        'SERVER_UNREACHABLE',
        `cannot reach ${this.settings.url} (${cause}); is the server running?`,
        1,
      );
    }
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: { ...this.headers(body !== undefined), ...extraHeaders },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw apiError(res.status, text, this.settings);
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }

  /** Reads a server-sent event stream until it ends. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    const res = await this.fetch(path, {
      headers: { ...this.headers(false), accept: 'text/event-stream' },
      ...(signal === undefined ? {} : { signal }),
    });
    if (!res.ok || res.body === null) throw apiError(res.status, await res.text(), this.settings);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const part of res.body) {
      buffer += decoder.decode(part as Uint8Array, { stream: true });
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end < 0) break;
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const ev: SseEvent = { event: 'message', id: null, data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') ev.event = value;
          else if (field === 'id') ev.id = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length === 0) continue;
        ev.data = data.join('\n');
        yield ev;
      }
    }
  }
}

function apiError(status: number, text: string, settings: ClientSettings): CliError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 500);
  let field: string | undefined;
  try {
    const e = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
    code = e.error?.code ?? code;
    message = e.error?.message ?? message;
    field = e.error?.field;
  } catch {}
  if (status === 401) {
    message +=
      settings.token === null
        ? ' (no token found: pass --token, set REDIACC_TOKEN or run rediacc login)'
        : '';
  }
  return new CliError(code, message, status >= 400 && status < 500 ? 2 : 1, field);
}
