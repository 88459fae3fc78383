import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { DataTable } from '../components/data-table';
import { Freshness } from '../components/freshness';
import { ActionsCell, ConfirmDelete, Lead, useAction } from '../components/ops-ui';
import { ErrorNote } from '../components/status';
import { ago, clock } from '../format';
import { useLive } from '../live';
import { opsApi, type Schedule } from '../ops-api';
import { can } from '../permissions';
import { Link } from '../router';

function targetOf(s: Schedule): string {
  if (s.task.machine !== undefined) return s.task.machine;
  if (s.task.machines !== undefined) return `${s.task.machines.length} machines`;
  return Object.entries(s.task.select ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Recurring schedules of your teams: when they run next, how the last run went; pause, resume, delete, add. */
export default function Schedules() {
  const { me } = useAuth();
  const list = useLive(() => opsApi.schedules(), [], { on: ['tasks'], pollMs: 30_000 });
  const machines = useLive(() => api.machines(), [], { pollMs: 300_000 });
  const usable = (machines.data ?? [])
    .filter((m) => can(me ?? null, 'schedule:write', m.team))
    .map((m) => m.name);
  const rows = list.data ?? [];
  const anyWrite = rows.some((s) => can(me ?? null, 'schedule:write', s.team));
  return (
    <>
      <div className="page-head">
        <h1>Schedules</h1>
        <Freshness live={list} pollMs={30_000} />
      </div>
      <Lead>A schedule creates its task (or fan-out) at every time its cron expression names.</Lead>
      <ErrorNote error={list.error} />
      <DataTable
        rows={list.data}
        label="Schedules"
        testId="schedules"
        columns={['Name', 'When', 'Runs', 'Next', 'Last', anyWrite && 'Actions']}
        empty="No schedules."
      >
        {(s) => (
          <Row
            key={s.name}
            s={s}
            canWrite={can(me ?? null, 'schedule:write', s.team)}
            showActions={anyWrite}
            onChange={list.reload}
          />
        )}
      </DataTable>
      {usable.length > 0 ? <AddSchedule machines={usable} onDone={list.reload} /> : null}
    </>
  );
}

function Row({
  s,
  canWrite,
  showActions,
  onChange,
}: {
  s: Schedule;
  canWrite: boolean;
  showActions: boolean;
  onChange: () => void;
}) {
  const action = useAction();
  return (
    <tr data-schedule={s.name}>
      <td>
        {s.name}
        <div className="muted small">{s.team}</div>
      </td>
      <td>
        <code>{s.cron}</code>
        <div className="muted small">{s.timezone}</div>
      </td>
      <td className="command">
        <code>{s.task.command}</code>
        <div className="muted small">on {targetOf(s)}</div>
      </td>
      <td title={s.nextRunAt ?? ''}>
        {s.paused ? <span className="badge st-cancelled">paused</span> : clock(s.nextRunAt)}
      </td>
      <td>
        {s.lastRunAt === null ? (
          <span className="muted">never</span>
        ) : (
          <>
            {ago(s.lastRunAt)} · {s.lastOutcome ?? ''}
            {s.lastBatchId !== null ? (
              <>
                {' '}
                <Link to={`/batches/${s.lastBatchId}`}>batch</Link>
              </>
            ) : s.lastTaskIds[0] !== undefined ? (
              <>
                {' '}
                <Link to={`/tasks/${s.lastTaskIds[0]}`}>task</Link>
              </>
            ) : null}
            {s.lastDetail === null ? null : <div className="muted small">{s.lastDetail}</div>}
          </>
        )}
      </td>
      <ActionsCell show={showActions} allowed={canWrite}>
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              await opsApi.pauseSchedule(s.name, !s.paused);
              onChange();
            })
          }
        >
          {s.paused ? 'Resume' : 'Pause'}
        </button>
        <ConfirmDelete
          what={`schedule ${s.name}`}
          remove={() => opsApi.deleteSchedule(s.name)}
          onGone={onChange}
        />
        <ErrorNote error={action.error} />
      </ActionsCell>
    </tr>
  );
}

function AddSchedule({ machines, onDone }: { machines: string[]; onDone: () => void }) {
  const action = useAction();
  const [open, setOpen] = useState(false);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const get = (k: string) => String(f.get(k) ?? '').trim();
    const form = e.currentTarget;
    void action.run(async () => {
      await opsApi.createSchedule({
        name: get('name'),
        cron: get('cron'),
        machine: get('machine'),
        command: get('command'),
        priority: Number(get('priority')),
        ...(get('timezone') === '' ? {} : { timezone: get('timezone') }),
      });
      form.reset();
      setOpen(false);
      onDone();
    });
  };
  if (!open) {
    return (
      <p>
        <button type="button" onClick={() => setOpen(true)}>
          Add a schedule
        </button>
      </p>
    );
  }
  return (
    <form className="card ops-form" onSubmit={submit} aria-labelledby="add-s-h">
      <h2 id="add-s-h">Add a schedule</h2>
      <div className="row">
        <label>
          Name
          <input name="name" required />
        </label>
        <label>
          Cron
          <input name="cron" required placeholder="0 3 * * *" />
        </label>
        <label>
          Time zone
          <input name="timezone" placeholder="UTC" />
        </label>
      </div>
      <div className="row">
        <label>
          Machine
          <select name="machine">
            {machines.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Priority
          <select name="priority" defaultValue="3">
            {[1, 2, 3, 4, 5].map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Command
        <textarea name="command" rows={2} required spellCheck={false} />
      </label>
      <div className="actions">
        <button type="submit" className="primary" disabled={action.busy}>
          Add schedule
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      <ErrorNote error={action.error} />
    </form>
  );
}
