import { type FormEvent, useEffect, useState } from 'react';
import { TASK_STATUSES } from '../../../src/core/types';
import { api } from '../api';
import { useAuth } from '../auth';
import { DataTable, IdCell } from '../components/data-table';
import { Field } from '../components/field';
import { Freshness } from '../components/freshness';
import { BulkActions, SelectAllHeader, SelectCell, useTaskSelection } from '../components/ops-bulk-actions';
import { Pager, useCursorStack } from '../components/pager';
import { ErrorNote, PriorityBadge, StatusBadge } from '../components/status';
import { UsualBadge, useUsualRuns } from '../components/usual-run';
import { ago } from '../format';
import { useLive } from '../live';
import { can } from '../permissions';
import { Link, navigate, useLocation } from '../router';
import type { TaskFilter } from '../types';

const FILTER_KEYS = ['status', 'priority', 'team', 'machine', 'q', 'batch'] as const;
const PAGE_SIZES = [25, 50, 100] as const;

/** The task list: filtered and paged by the server (newest first), refreshed when tasks change. */
export default function Tasks() {
  const { me } = useAuth();
  const { query } = useLocation();
  const filter: TaskFilter = {};
  for (const k of FILTER_KEYS) {
    const v = query.get(k);
    if (v !== null && v !== '') filter[k] = v;
  }
  const before = query.get('before') ?? undefined;
  const limit = Number(query.get('limit') ?? 50);
  const key = JSON.stringify([filter, before, limit]);
  const newer = useCursorStack<string>();
  const list = useLive(
    () => api.tasks({ ...filter, limit, ...(before === undefined ? {} : { before: Number(before) }) }),
    [key],
    { on: ['tasks'] },
  );
  const teams = useLive(() => api.teams(), [], { pollMs: 300_000 });
  const [text, setText] = useState(filter.q ?? '');
  useEffect(() => setText(filter.q ?? ''), [filter.q]);

  const go = (changes: Record<string, string | undefined>, keepPage = false) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === '') next.delete(k);
      else next.set(k, v);
    }
    if (!keepPage) {
      next.delete('before');
      newer.clear();
    }
    const s = next.toString();
    navigate(`/tasks${s === '' ? '' : `?${s}`}`);
  };
  const search = (e: FormEvent) => {
    e.preventDefault();
    go({ q: text.trim() });
  };
  const tasks = list.data ?? [];
  const last = tasks.at(-1);
  const selection = useTaskSelection(tasks);
  const usual = useUsualRuns(tasks);

  return (
    <>
      <div className="page-head">
        <h1>Tasks</h1>
        <Freshness live={list} />
        {can(me ?? null, 'task:create') ? (
          <Link to="/tasks/new" className="button primary">
            New task
          </Link>
        ) : null}
      </div>
      <form className="filters" onSubmit={search} aria-label="Filter tasks">
        <Field label="Status">
          {(id) => (
            <select id={id} value={filter.status ?? ''} onChange={(e) => go({ status: e.target.value })}>
              <option value="">any</option>
              {TASK_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Priority">
          {(id) => (
            <select id={id} value={filter.priority ?? ''} onChange={(e) => go({ priority: e.target.value })}>
              <option value="">any</option>
              {[1, 2, 3, 4, 5].map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Team">
          {(id) => (
            <select id={id} value={filter.team ?? ''} onChange={(e) => go({ team: e.target.value })}>
              <option value="">any</option>
              {(teams.data ?? []).map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label>
          Machine
          <input
            defaultValue={filter.machine ?? ''}
            key={filter.machine ?? ''}
            placeholder="name"
            onBlur={(e) =>
              e.target.value.trim() !== (filter.machine ?? '') && go({ machine: e.target.value.trim() })
            }
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                go({ machine: e.currentTarget.value.trim() });
              }
            }}
          />
        </label>
        <label className="grow">
          Text
          <input
            type="search"
            value={text}
            placeholder="in the command, or a task id"
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <button type="submit">Search</button>
        {Object.keys(filter).length > 0 ? (
          <button type="button" className="link" onClick={() => navigate('/tasks')}>
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorNote error={list.error} />
      <BulkActions sel={selection} tasks={tasks} onDone={list.reload} />
      <DataTable
        rows={list.data}
        className="tasks"
        busy={list.data === undefined}
        lead={<SelectAllHeader sel={selection} tasks={tasks} />}
        columns={[
          'Task',
          'Status',
          'Priority',
          'Machine',
          { label: 'Team', className: 'hide-narrow' },
          { label: 'Attempts', className: 'hide-narrow' },
          { label: 'Exit', className: 'hide-narrow' },
          'Created',
          'Command',
        ]}
        empty={`No tasks ${Object.keys(filter).length > 0 ? 'match these filters' : 'yet'}.`}
      >
        {(t) => (
          <tr key={t.taskId} data-task={t.taskId}>
            <SelectCell sel={selection} task={t} />
            <IdCell id={t.taskId} to={`/tasks/${t.taskId}`} />
            <td>
              <StatusBadge status={t.status} />
              {t.status === 'running' ? <UsualBadge fetched={usual.get(t.taskId)} /> : null}
            </td>
            <td>
              <PriorityBadge priority={t.priority} />
            </td>
            <td>{t.machine ?? <span className="muted">by labels</span>}</td>
            <td className="hide-narrow">{t.team}</td>
            <td className="hide-narrow">{t.attempts}</td>
            <td className="hide-narrow">{t.exitCode ?? t.signal ?? ''}</td>
            <td title={t.createdAt ?? ''}>{ago(t.createdAt)}</td>
            <td className="command">
              <code>{t.command}</code>
            </td>
          </tr>
        )}
      </DataTable>
      <Pager
        canNewer={before !== undefined}
        canOlder={last !== undefined && tasks.length >= limit}
        onNewer={() => go({ before: newer.pop() }, true)}
        onOlder={() => {
          newer.push(before ?? '');
          go({ before: String(last?.seq) }, true);
        }}
      >
        <Field label="Per page">
          {(id) => (
            <select id={id} value={limit} onChange={(e) => go({ limit: e.target.value })}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          )}
        </Field>
      </Pager>
    </>
  );
}
