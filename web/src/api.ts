import type {
  Bridge,
  Failures,
  HealthPoint,
  Machine,
  Me,
  OutputChunk,
  QueueStats,
  Task,
  TaskFilter,
  VaultKey,
  WaitInfo,
} from './types';

/**
 * The dashboard's one way to the API. Requests carry the session cookie
 * (same origin); changes carry the session's CSRF token. A 401 tells the app
 * to show the login page.
 */
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
const unauthenticated = new Set<() => void>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API answers 401 (the session ended); returns the unsubscribe function. */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticated.add(listener);
  return () => unauthenticated.delete(listener);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the server cannot be reached (${(err as Error).message})`);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    const err = new ApiError(
      res.status,
      e?.code ?? `HTTP_${res.status}`,
      e?.message ?? res.statusText,
      e?.field,
    );
    if (res.status === 401 && !path.startsWith('/auth/session')) for (const l of unauthenticated) l();
    throw err;
  }
  return data as T;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

export const api = {
  me: () => request<Me>('GET', '/auth/session'),
  login: (email: string, password: string) => request<Me>('POST', '/auth/session', { email, password }),
  loginWithToken: (token: string) => request<Me>('POST', '/auth/session', { token }),
  logout: () => request<null>('DELETE', '/auth/session'),

  tasks: (filter: TaskFilter & { before?: number; limit?: number }) =>
    request<Task[]>('GET', `/tasks${query({ ...filter })}`),
  task: (id: string) => request<Task>('GET', `/tasks/${encodeURIComponent(id)}`),
  taskWait: (id: string) => request<WaitInfo>('GET', `/tasks/${encodeURIComponent(id)}/wait`),
  taskOutput: (id: string, after: number) =>
    request<{ chunks: OutputChunk[]; next: number; status: string; done: boolean }>(
      'GET',
      `/tasks/${encodeURIComponent(id)}/logs${query({ after, limit: 5000 })}`,
    ),
  cancelTask: (id: string) => request<Task>('POST', `/tasks/${encodeURIComponent(id)}/cancel`, {}),
  retryTask: (id: string) => request<Task>('POST', `/tasks/${encodeURIComponent(id)}/retry`, {}),
  createTask: (body: Record<string, unknown>) =>
    request<Task | { batchId: string; count: number; taskIds: string[] }>('POST', '/tasks', body),

  queueStats: () => request<QueueStats>('GET', '/queue/stats'),
  failures: (hours = 24) => request<Failures>('GET', `/queue/failures${query({ hours })}`),
  machines: () => request<Machine[]>('GET', '/machines'),
  machineHealth: (name: string, minutes: number) =>
    request<HealthPoint[]>('GET', `/machines/${encodeURIComponent(name)}/health${query({ minutes })}`),
  bridges: () => request<Bridge[]>('GET', '/bridges'),
  teams: () => request<{ name: string }[]>('GET', '/teams'),
  vaultKeys: (team: string) => request<VaultKey[]>('GET', `/teams/${encodeURIComponent(team)}/vault`),
};

/** Server-sent events of the API (`/events`, `/tasks/:id/logs?follow=1`); the cookie goes along. */
export function eventSource(path: string): EventSource {
  return new EventSource(`${API}${path}`, { withCredentials: true });
}
