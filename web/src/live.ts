import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { eventSource } from './api';
import type { QueueStats } from './types';

/**
 * One event stream (`/api/v1/events`) shared by every live view. While it is
 * open, views refresh when it says something changed; when it drops, they
 * poll instead, and say so, until the browser has reconnected it.
 */
export type LiveMode = 'connecting' | 'live' | 'polling' | 'interval';
export type HubEvent = 'queue' | 'tasks';

const REOPEN_MS = 5_000;

class EventsHub {
  private source: EventSource | null = null;
  private users = 0;
  private reopen: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Map<HubEvent, Set<(data: unknown) => void>>();
  private readonly watchers = new Set<() => void>();
  mode: LiveMode = 'connecting';
  lastQueue: { at: string; stats: QueueStats } | null = null;

  acquire(): () => void {
    this.users += 1;
    if (this.source === null && this.reopen === null) this.open();
    return () => {
      this.users -= 1;
      if (this.users === 0) this.close();
    };
  }

  on(event: HubEvent, listener: (data: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  watch = (listener: () => void): (() => void) => {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  };

  private setMode(mode: LiveMode): void {
    if (this.mode === mode) return;
    this.mode = mode;
    for (const w of this.watchers) w();
  }

  private open(): void {
    this.reopen = null;
    const source = eventSource('/events');
    this.source = source;
    source.onopen = () => this.setMode('live');
    source.onerror = () => {
      this.setMode('polling');
      // The browser retries by itself unless the answer was not a stream (a 401, a proxy's error page).
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        if (this.users > 0) this.reopen = setTimeout(() => this.open(), REOPEN_MS);
      }
    };
    for (const event of ['queue', 'tasks'] as const) {
      source.addEventListener(event, (e) => {
        this.setMode('live');
        const data = JSON.parse((e as MessageEvent<string>).data) as unknown;
        if (event === 'queue') this.lastQueue = data as { at: string; stats: QueueStats };
        for (const l of this.listeners.get(event) ?? []) l(data);
      });
    }
  }

  private close(): void {
    this.source?.close();
    this.source = null;
    if (this.reopen !== null) clearTimeout(this.reopen);
    this.reopen = null;
    this.setMode('connecting');
  }
}

export const hub = new EventsHub();

/** The event stream's state, re-rendering when it changes. */
export function useLiveMode(): LiveMode {
  return useSyncExternalStore(hub.watch, () => hub.mode);
}

/** Subscribes to one kind of event for the life of the component. */
export function useHubEvent(event: HubEvent, listener: (data: unknown) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => {
    const release = hub.acquire();
    const off = hub.on(event, (d) => ref.current(d));
    return () => {
      off();
      release();
    };
  }, [event]);
}

export interface Live<T> {
  data: T | undefined;
  error: Error | null;
  updatedAt: number | null;
  mode: LiveMode;
  reload: () => void;
}

/**
 * Data that stays current: loaded at once, again when the event stream says
 * `on` happened, and every `pollMs` while the stream is down (or always, for
 * data no event announces: `on` empty). A slow refresh runs in any case.
 */
export function useLive<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  options: {
    on?: readonly HubEvent[];
    pollMs?: number;
    safetyMs?: number;
    /** Takes the data from an event itself (no request); undefined: load it instead. */
    fromEvent?: (event: HubEvent, data: unknown) => T | undefined;
  } = {},
): Live<T> {
  const on = options.on ?? [];
  const pollMs = options.pollMs ?? 5_000;
  const safetyMs = options.safetyMs ?? 60_000;
  const [state, setState] = useState<{ data: T | undefined; error: Error | null; updatedAt: number | null }>({
    data: undefined,
    error: null,
    updatedAt: null,
  });
  const hubMode = useLiveMode();
  const mode: LiveMode = on.length === 0 ? 'interval' : hubMode;
  const loadRef = useRef(load);
  loadRef.current = load;
  const fromEventRef = useRef(options.fromEvent);
  fromEventRef.current = options.fromEvent;
  const inFlight = useRef(false);
  const again = useRef(false);
  const generation = useRef(0);

  const reload = useCallback(() => {
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    const gen = generation.current;
    loadRef
      .current()
      .then(
        (data) => {
          if (gen === generation.current) setState({ data, error: null, updatedAt: Date.now() });
        },
        (error: Error) => {
          if (gen === generation.current) setState((s) => ({ ...s, error }));
        },
      )
      .finally(() => {
        inFlight.current = false;
        if (again.current) {
          again.current = false;
          reload();
        }
      });
  }, []);

  // The caller's deps decide when to load afresh (they are plain values: ids, filters).
  const depsKey = JSON.stringify(deps);
  useEffect(() => {
    void depsKey;
    generation.current += 1;
    inFlight.current = false;
    setState((s) => ({ ...s, error: null }));
    reload();
  }, [depsKey, reload]);

  const onKey = on.join(',');
  useEffect(() => {
    if (onKey === '') return;
    const release = hub.acquire();
    const offs = onKey.split(',').map((e) =>
      hub.on(e as HubEvent, (d) => {
        const direct = fromEventRef.current?.(e as HubEvent, d);
        if (direct === undefined) reload();
        else setState({ data: direct, error: null, updatedAt: Date.now() });
      }),
    );
    return () => {
      for (const off of offs) off();
      release();
    };
  }, [onKey, reload]);

  // Back from a drop: whatever changed meanwhile is read now.
  useEffect(() => {
    if (mode === 'live') reload();
  }, [mode, reload]);

  useEffect(() => {
    const every = mode === 'live' ? safetyMs : pollMs;
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') reload();
    }, every);
    return () => clearInterval(timer);
  }, [mode, pollMs, safetyMs, reload]);

  return { ...state, mode, reload };
}

/** The current time, re-rendering every `everyMs`. */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
