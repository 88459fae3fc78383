import { useEffect, useRef, useState } from 'react';
import { api, eventSource } from './api';
import type { OutputChunk } from './types';

/**
 * A task's output as it arrives: server-sent events from
 * `/tasks/:id/logs?follow=1`, and, while the stream is down, polling of
 * `/tasks/:id/logs?after=N` until the stream can be opened again. Chunks are
 * kept in order by id, each once.
 */
export type StreamMode = 'connecting' | 'live' | 'polling' | 'ended';

const POLL_MS = 2_000;
const REOPEN_MS = 5_000;

export interface OutputState {
  chunks: OutputChunk[];
  mode: StreamMode;
  /** When output or a status last arrived (ms). */
  updatedAt: number | null;
  /** Status changes the stream announced; the page re-reads the task on each. */
  statusTick: number;
}

export function useTaskOutput(taskId: string, round = 0): OutputState {
  const [state, setState] = useState<OutputState>({
    chunks: [],
    mode: 'connecting',
    updatedAt: null,
    statusTick: 0,
  });
  const last = useRef(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new round (a retry) follows the output afresh
  useEffect(() => {
    let stopped = false;
    let source: EventSource | null = null;
    let poll: ReturnType<typeof setInterval> | null = null;
    let reopen: ReturnType<typeof setTimeout> | null = null;
    let ended = false;
    last.current = 0;
    setState({ chunks: [], mode: 'connecting', updatedAt: null, statusTick: 0 });

    const add = (chunks: OutputChunk[]) => {
      const fresh = chunks.filter((c) => c.id > last.current);
      if (fresh.length === 0) return;
      last.current = fresh.at(-1)?.id ?? last.current;
      setState((s) => ({ ...s, chunks: [...s.chunks, ...fresh], updatedAt: Date.now() }));
    };
    const setMode = (mode: StreamMode) => setState((s) => (s.mode === mode ? s : { ...s, mode }));
    const tick = () => setState((s) => ({ ...s, statusTick: s.statusTick + 1, updatedAt: Date.now() }));
    const stopPolling = () => {
      if (poll !== null) clearInterval(poll);
      poll = null;
    };

    const pollOnce = async () => {
      try {
        const page = await api.taskOutput(taskId, last.current);
        if (stopped) return;
        add(page.chunks);
        tick();
        if (page.done) {
          ended = true;
          stopPolling();
          setMode('ended');
        }
      } catch {
        // Still down: the next round tries again.
      }
    };

    const open = () => {
      reopen = null;
      if (stopped) return;
      const es = eventSource(`/tasks/${encodeURIComponent(taskId)}/logs?follow=1&after=${last.current}`);
      source = es;
      es.onopen = () => {
        stopPolling();
        setMode('live');
      };
      es.addEventListener('output', (e) =>
        add([JSON.parse((e as MessageEvent<string>).data) as OutputChunk]),
      );
      es.addEventListener('status', () => tick());
      es.addEventListener('end', () => {
        ended = true;
        es.close();
        source = null;
        stopPolling();
        tick();
        setMode('ended');
      });
      es.onerror = () => {
        // Do not let the browser reconnect from the start: poll from where we are, reopen later.
        es.close();
        if (source === es) source = null;
        if (stopped || ended) return;
        setMode('polling');
        if (poll === null) {
          void pollOnce();
          poll = setInterval(() => void pollOnce(), POLL_MS);
        }
        reopen = setTimeout(() => {
          if (!ended) open();
        }, REOPEN_MS);
      };
    };
    open();
    return () => {
      stopped = true;
      source?.close();
      stopPolling();
      if (reopen !== null) clearTimeout(reopen);
    };
  }, [taskId, round]);

  return state;
}

/** Consecutive chunks of the same attempt and stream, joined: fewer DOM nodes, same text. */
export function segments(
  chunks: OutputChunk[],
): { key: number; attempt: number; stream: string; text: string }[] {
  const out: { key: number; attempt: number; stream: string; text: string }[] = [];
  for (const c of chunks) {
    const prev = out.at(-1);
    if (prev !== undefined && prev.attempt === c.attempt && prev.stream === c.stream) prev.text += c.data;
    else out.push({ key: c.id, attempt: c.attempt, stream: c.stream, text: c.data });
  }
  return out;
}
