import { useEffect, useMemo, useState } from 'react';
import { FINAL_STATUSES, TASK_STATUSES } from '../../../src/core/types';
import { ApiError } from '../api';
import { useAuth } from '../auth';
import { filterGrid, outcome, sortFailuresFirst } from '../batch-grid';
import { Freshness } from '../components/freshness';
import { CountsBar } from '../components/ops-counts-bar';
import { useAction } from '../components/ops-ui';
import { VirtualTable } from '../components/ops-virtual-list';
import { ErrorNote, StatusBadge } from '../components/status';
import { ago, between } from '../format';
import { useLive } from '../live';
import { type FailureGroup, opsApi } from '../ops-api';
import { can } from '../permissions';
import { Link, navigate } from '../router';

const ROW_HEIGHT = 36;
const GRID_HEIGHT = 520;
const GROUP_MACHINES_SHOWN = 12;
/** A batch this large is re-read every few seconds rather than on every change hint (each read is all its rows). */
const BIG_BATCH = 2000;
/**
 * The failure groups are read again at most this often while the batch runs (each read looks at
 * up to 2,000 failures' output), and only when the grid's failed count differs from theirs.
 */
const FAILURES_EVERY_MS = 30_000;
const FAILURES_SAFETY_MS = 300_000;

/** One batch: a per-machine result grid (failures first, windowed), failures grouped by error text, re-run. */
export default function Batch({ id }: { id: string }) {
  const { me } = useAuth();
  const [done, setDone] = useState(false);
  const [big, setBig] = useState(false);
  const grid = useLive(
    async () => {
      const g = await opsApi.batchTasks(id);
      setDone(g.tasks.every((t) => FINAL_STATUSES.includes(t.status)));
      setBig(g.total > BIG_BATCH);
      return g;
    },
    [id],
    done ? { pollMs: 60_000 } : big ? { pollMs: 5_000 } : { on: ['tasks'], pollMs: 5_000 },
  );
  const failedCount = grid.data?.counts.failed ?? 0;
  const failures = useLive(() => opsApi.batchFailures(id), [id], { pollMs: FAILURES_SAFETY_MS });
  const behind =
    grid.data !== undefined && failures.data !== undefined && failures.data.failed !== failedCount;
  const { updatedAt: failuresAt, reload: reloadFailures } = failures;
  useEffect(() => {
    if (!behind) return;
    const timer = setTimeout(reloadFailures, Math.max(0, (failuresAt ?? 0) + FAILURES_EVERY_MS - Date.now()));
    return () => clearTimeout(timer);
  }, [behind, failuresAt, reloadFailures]);
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const sorted = useMemo(() => sortFailuresFirst(grid.data?.tasks ?? []), [grid.data]);
  const rows = useMemo(() => filterGrid(sorted, status, text), [sorted, status, text]);

  if (grid.error instanceof ApiError && grid.error.status === 404) {
    return (
      <>
        <h1>Batch not found</h1>
        <p>
          Batch <code>{id}</code> does not exist, or not in your teams. <Link to="/batches">All batches</Link>
        </p>
      </>
    );
  }
  const g = grid.data;
  if (g === undefined) return <p aria-busy="true">Loading batch…</p>;
  const teams = [...new Set(g.tasks.map((t) => t.team))];
  const mayRerun = teams.length > 0 && teams.every((t) => can(me ?? null, 'task:create', t));

  return (
    <>
      <div className="page-head">
        <h1>
          Batch <code className="task-id">{id}</code>
        </h1>
        <Freshness live={grid} pollMs={done ? 60_000 : 5_000} />
        {mayRerun && failedCount > 0 ? <RerunFailed id={id} failed={failedCount} /> : null}
      </div>
      <p>
        <CountsBar counts={g.counts} total={g.total} />{' '}
        <span className="muted small">
          {g.total} machines · {done ? 'finished' : 'in progress'} ·{' '}
          <Link to={`/tasks?batch=${id}`}>as a task list</Link>
        </span>
      </p>

      <section aria-labelledby="groups-h">
        <h2 id="groups-h">Failures by error text</h2>
        <ErrorNote error={failures.error} />
        {failures.data?.sampled === true ? (
          <p className="muted small" data-testid="failures-sampled">
            The first {failures.data.grouped} of {failures.data.failed} failures, grouped; the rest are
            counted in the grid.
          </p>
        ) : null}
        {failures.data !== undefined && failures.data.failed !== failedCount ? (
          <p className="muted small" data-testid="failures-behind">
            The groups hold {failures.data.failed} of {failedCount} failures so far; they are read again at
            most every {FAILURES_EVERY_MS / 1000} s.
          </p>
        ) : null}
        {failures.data === undefined ? null : failures.data.groups.length === 0 ? (
          <p className="muted">No failures{done ? '' : ' so far'}.</p>
        ) : (
          <ol className="ops-groups" data-testid="failure-groups">
            {failures.data.groups.map((fg) => (
              <Group key={`${fg.reasons.join()}|${fg.pattern}`} g={fg} onFilter={() => setStatus('failed')} />
            ))}
          </ol>
        )}
      </section>

      <section aria-labelledby="grid-h">
        <h2 id="grid-h">Per machine</h2>
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the grid">
          <label>
            Status
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">any</option>
              {TASK_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s} ({g.counts[s] ?? 0})
                </option>
              ))}
            </select>
          </label>
          <label className="grow">
            Machine
            <input
              type="search"
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="name or task id"
            />
          </label>
        </form>
        <p className="muted small" data-testid="grid-count">
          {rows.length} of {g.total} shown, failures first
        </p>
        <VirtualTable
          rows={rows}
          rowHeight={ROW_HEIGHT}
          height={GRID_HEIGHT}
          label="Tasks of the batch per machine"
          testId="batch-grid"
          rowKey={(r) => r.taskId}
          columns={[
            { header: 'Machine', width: 'minmax(8em, 2fr)' },
            { header: 'Status', width: '7.5em' },
            { header: 'Result', width: 'minmax(6em, 1fr)' },
            { header: 'Attempts', width: '5em', className: 'hide-narrow' },
            { header: 'Ran for', width: '6em', className: 'hide-narrow' },
            { header: 'Ended', width: '7em', className: 'hide-narrow' },
          ]}
          renderRow={(r) => [
            <Link key="m" to={`/tasks/${r.taskId}`} title={`Output of ${r.machine}`}>
              {r.machine}
            </Link>,
            <StatusBadge key="s" status={r.status} />,
            outcome(r),
            r.attempts,
            between(r.startedAt, r.finishedAt),
            ago(r.finishedAt),
          ]}
        />
      </section>
    </>
  );
}

function Group({ g, onFilter }: { g: FailureGroup; onFilter: () => void }) {
  const [all, setAll] = useState(false);
  const shown = all ? g.tasks : g.tasks.slice(0, GROUP_MACHINES_SHOWN);
  return (
    <li className="card" data-count={g.count}>
      <p>
        <strong className="ops-count">{g.count}×</strong> <code className="ops-wrap">{g.pattern}</code>
      </p>
      <p className="muted small">
        {g.reasons.join(', ')}
        {g.exitCodes.length === 0 ? '' : ` · exit ${g.exitCodes.join(', ')}`}
        {g.example === g.pattern ? '' : ` · e.g. “${g.example}”`}
      </p>
      <p className="ops-machines small">
        {shown.map((t) => (
          <Link key={t.taskId} to={`/tasks/${t.taskId}`}>
            {t.machine}
          </Link>
        ))}
        {g.tasks.length > shown.length ? (
          <button type="button" className="link" onClick={() => setAll(true)}>
            {g.tasks.length - shown.length} more
          </button>
        ) : null}
        {g.count > g.tasks.length ? (
          <button type="button" className="link" onClick={onFilter}>
            all {g.count} in the grid
          </button>
        ) : null}
      </p>
    </li>
  );
}

function RerunFailed({ id, failed }: { id: string; failed: number }) {
  const [asking, setAsking] = useState(false);
  const [rolling, setRolling] = useState('');
  const action = useAction();
  if (!asking) {
    return (
      <button type="button" className="ops-push" onClick={() => setAsking(true)}>
        Re-run on the {failed} failed machines
      </button>
    );
  }
  return (
    <span className="confirm ops-push">
      <label className="inline">
        At most at once
        <input
          value={rolling}
          onChange={(e) => setRolling(e.target.value)}
          placeholder="all"
          size={5}
          aria-label="At most at once (a number or a percentage)"
        />
      </label>
      <button
        type="button"
        className="primary"
        disabled={action.busy}
        onClick={() =>
          void action.run(async () => {
            const r = await opsApi.rerunFailed(id, rolling.trim() === '' ? {} : { rolling: rolling.trim() });
            navigate(`/batches/${r.batchId}`);
          })
        }
      >
        Re-run {failed} failed
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
      <ErrorNote error={action.error} />
    </span>
  );
}
