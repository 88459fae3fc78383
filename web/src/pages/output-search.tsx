import { type FormEvent, useEffect, useState } from 'react';
import { TASK_STATUSES } from '../../../src/core/types';
import { Lead, useAction } from '../components/ops-ui';
import { ErrorNote, StatusBadge } from '../components/status';
import { ago, bytes, shortId } from '../format';
import { opsApi, type SearchResult } from '../ops-api';
import { Link, navigate, useLocation } from '../router';

const KEYS = ['q', 'team', 'machine', 'status', 'hours'] as const;

/**
 * Search across the output of many tasks: the server reads the stored output
 * of your most recent tasks (a bounded window, newest first) and returns the
 * matching lines; "older tasks" moves the window back.
 */
export default function OutputSearch() {
  const { query } = useLocation();
  const params = Object.fromEntries(KEYS.map((k) => [k, query.get(k) ?? ''])) as Record<
    (typeof KEYS)[number],
    string
  >;
  const [pages, setPages] = useState<SearchResult[]>([]);
  const action = useAction();
  const key = query.toString();

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query string is a new search
  useEffect(() => {
    setPages([]);
    if (params.q.length < 2) return;
    void action.run(async () => {
      const first = await opsApi.searchOutput(strip(params));
      setPages([first]);
    });
  }, [key]);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of KEYS) {
      const v = String(form.get(k) ?? '').trim();
      if (v !== '') next.set(k, v);
    }
    navigate(`/search?${next}`);
  };
  const last = pages.at(-1);
  const older = () =>
    void action.run(async () => {
      if (last?.nextBefore == null) return;
      const more = await opsApi.searchOutput({ ...strip(params), before: last.nextBefore });
      setPages((p) => [...p, more]);
    });
  const tasks = pages.flatMap((p) => p.tasks);
  const scanned = pages.reduce((a, p) => a + p.scannedTasks, 0);
  const scannedBytes = pages.reduce((a, p) => a + p.scannedBytes, 0);

  return (
    <>
      <div className="page-head">
        <h1>Search output</h1>
      </div>
      <Lead>
        Finds text in the stored output of your teams’ tasks, newest first: up to {last?.limits.tasks ?? 200}{' '}
        tasks and {bytes(last?.limits.bytes ?? 64 * 1024 * 1024)} of output per search. Letters match in any
        case.
      </Lead>
      <form className="filters" onSubmit={submit} aria-label="Search output" key={key}>
        <label className="grow">
          Text
          <input name="q" type="search" defaultValue={params.q} minLength={2} maxLength={200} required />
        </label>
        <label>
          Machine
          <input name="machine" defaultValue={params.machine} />
        </label>
        <label>
          Team
          <input name="team" defaultValue={params.team} />
        </label>
        <label>
          Status
          <select name="status" defaultValue={params.status}>
            <option value="">any</option>
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Created within
          <select name="hours" defaultValue={params.hours}>
            <option value="">any time</option>
            <option value="1">1 hour</option>
            <option value="24">24 hours</option>
            <option value="168">7 days</option>
          </select>
        </label>
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      <ErrorNote error={action.error} />
      {last === undefined ? null : (
        <p className="muted small" data-testid="search-summary">
          {tasks.length} tasks with matches · read {scanned} tasks, {bytes(scannedBytes)} of output
          {pages.some((p) => p.truncated) ? ' · more matches than shown in a window: narrow the search' : ''}
        </p>
      )}
      <ol className="ops-results" data-testid="search-results">
        {tasks.map((t) => (
          <li key={t.taskId} className="card" data-task={t.taskId}>
            <p>
              <Link to={`/tasks/${t.taskId}?find=${encodeURIComponent(params.q)}`}>
                <code>{shortId(t.taskId)}</code>
              </Link>{' '}
              on <Link to={`/machines/${encodeURIComponent(t.machine)}`}>{t.machine}</Link>{' '}
              <StatusBadge status={t.status} />{' '}
              <span className="muted small">
                {t.team} · {ago(t.createdAt)}
              </span>
            </p>
            <pre className="ops-lines">
              {t.lines.map((l, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: lines of one chunk may repeat
                <span key={`${l.chunkId}-${i}`} className={`out-${l.stream}`}>
                  {l.text.slice(0, l.column)}
                  <mark>{l.text.slice(l.column, l.column + params.q.length)}</mark>
                  {l.text.slice(l.column + params.q.length)}
                  {'\n'}
                </span>
              ))}
            </pre>
          </li>
        ))}
      </ol>
      {last !== undefined && tasks.length === 0 && !action.busy ? (
        <p className="muted">No matches in this window.</p>
      ) : null}
      {last?.nextBefore == null ? (
        last === undefined ? null : (
          <p className="muted small">That was the oldest stored output.</p>
        )
      ) : (
        <button type="button" onClick={older} disabled={action.busy}>
          Search older tasks
        </button>
      )}
    </>
  );
}

function strip(p: Record<string, string>): {
  q: string;
  team?: string;
  machine?: string;
  status?: string;
  hours?: string;
} {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== '') out[k] = v;
  return out as { q: string };
}
