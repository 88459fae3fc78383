import { useEffect, useRef, useState } from 'react';
import { ACTIVE_STATUSES, FINAL_STATUSES } from '../../../src/core/types';
import { ApiError, api } from '../api';
import { useAuth } from '../auth';
import { OutputFind } from '../components/ops-output-find';
import { ErrorNote, PriorityBadge, StatusBadge } from '../components/status';
import { UsualNote } from '../components/usual-run';
import { between, bytes, clock, duration } from '../format';
import { useLive, useNow } from '../live';
import { segments, useTaskOutput } from '../output-stream';
import { can } from '../permissions';
import { Link } from '../router';
import type { Attempt, Task } from '../types';

const WAITING = new Set(['pending', 'retrying', 'assigned', 'cancelling']);

/** One task: what it is, why it waits, its attempts, its output live, and cancel / retry for those allowed. */
export default function TaskDetail({ id }: { id: string }) {
  const { me } = useAuth();
  // A retry starts a new round: the output is followed again from the start.
  const [round, setRound] = useState(0);
  const output = useTaskOutput(id, round);
  const task = useLive(() => api.task(id), [id, output.statusTick], { pollMs: 5_000 });
  const t = task.data;
  const waits = useLive(
    () => (t !== undefined && WAITING.has(t.status) ? api.taskWait(id) : Promise.resolve(null)),
    [id, t?.status, output.statusTick],
    { pollMs: 5_000 },
  );
  const now = useNow();

  if (task.error instanceof ApiError && task.error.status === 404) {
    return (
      <>
        <h1>Task not found</h1>
        <p>
          Task <code>{id}</code> does not exist, or not in your teams. <Link to="/tasks">All tasks</Link>
        </p>
      </>
    );
  }
  if (t === undefined) return <p aria-busy="true">Loading task…</p>;
  const active = ACTIVE_STATUSES.includes(t.status);
  const final = FINAL_STATUSES.includes(t.status);
  const canCancel = active && t.status !== 'cancelling' && can(me ?? null, 'task:cancel', t.team);
  const canRetry = final && can(me ?? null, 'task:retry', t.team);

  return (
    <>
      <div className="page-head">
        <h1>
          Task <code className="task-id">{t.taskId}</code>
        </h1>
        <StatusBadge status={t.status} />
        <div className="actions">
          {canCancel ? <CancelButton id={t.taskId} onDone={task.reload} /> : null}
          {canRetry ? (
            <RetryButton
              id={t.taskId}
              onDone={() => {
                setRound((r) => r + 1);
                task.reload();
              }}
            />
          ) : null}
        </div>
      </div>
      <ErrorNote error={task.error} />

      <pre className="command-line">
        <code>{t.command}</code>
      </pre>

      {waits.data !== null && waits.data !== undefined && waits.data.reasons.length > 0 ? (
        <section className="why" aria-labelledby="why-h">
          <h2 id="why-h">Why it waits</h2>
          <ul>
            {waits.data.reasons.map((r) => (
              <li key={r.code} data-code={r.code}>
                {r.text}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <dl className="facts">
        <Fact label="Machine">{t.machine ?? 'chosen by labels when a slot frees'}</Fact>
        <Fact label="Team">{t.team}</Fact>
        <Fact label="Priority">
          <PriorityBadge priority={t.priority} label={t.priorityLabel} />
        </Fact>
        <Fact label="Retries">
          {t.retryCount === 0
            ? 'none'
            : `${t.retryCount} more, ${t.retryDelay} s apart${t.backoff === 'exponential' ? ' (exponential)' : ''}`}
        </Fact>
        <Fact label="On final failure">{t.failureAction === 'alert' ? 'alert the team' : 'nothing'}</Fact>
        <Fact label="Timeout">{t.timeout === null ? 'none' : duration(t.timeout * 1000)}</Fact>
        <Fact label="Created">
          {clock(t.createdAt)} by {t.createdBy ?? 'unknown'}
        </Fact>
        <Fact label="Ran for">{between(t.startedAt, t.finishedAt, now)}</Fact>
        {t.machine === null ? null : (
          <Fact label="Compared with earlier runs">
            <UsualNote taskId={t.taskId} status={t.status} />
          </Fact>
        )}
        <Fact label="Result">
          {t.exitCode === null && t.signal === null && t.reason === null
            ? '—'
            : [t.exitCode === null ? null : `exit ${t.exitCode}`, t.signal, t.reason]
                .filter(Boolean)
                .join(' · ')}
        </Fact>
        {t.batchId === null ? null : (
          <Fact label="Batch">
            <Link to={`/tasks?batch=${t.batchId}`}>
              <code>{t.batchId}</code>
            </Link>
          </Fact>
        )}
        {t.env.length === 0 && Object.keys(t.secretEnv).length === 0 ? null : (
          <Fact label="Environment">
            {[
              ...t.env.filter((n) => !(n in t.secretEnv)),
              ...Object.entries(t.secretEnv).map(([n, k]) => `${n} ← vault:${k}`),
            ].join(', ')}
          </Fact>
        )}
      </dl>

      <Attempts task={t} now={now} />

      <section aria-labelledby="out-h">
        <div className="page-head">
          <h2 id="out-h">Output</h2>
          <output className={`freshness ${output.mode}`} aria-live="polite">
            <span className="dot" aria-hidden="true" />
            {output.mode === 'live'
              ? 'live'
              : output.mode === 'polling'
                ? 'stream dropped: polling every 2 s'
                : output.mode === 'ended'
                  ? 'complete'
                  : 'connecting'}
            {output.updatedAt === null ? '' : ` · last news ${duration(now - output.updatedAt)} ago`}
          </output>
          <span className="muted small">
            {bytes(t.outputBytes)}
            {t.outputCapped ? ' (capped: the rest was not kept)' : ''}
          </span>
        </div>
        {output.chunks.length > 0 ? (
          <OutputFind target='[data-testid="output"]' version={output.chunks.length} />
        ) : null}
        <Output chunks={output.chunks} archived={t.outputArchive} />
      </section>
    </>
  );
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Attempts({ task, now }: { task: Task; now: number }) {
  const attempts: Attempt[] = task.attemptHistory ?? [];
  if (attempts.length === 0) return null;
  const start = Date.parse(task.createdAt ?? new Date(now).toISOString());
  const end = Math.max(now, ...attempts.map((a) => (a.finishedAt === null ? now : Date.parse(a.finishedAt))));
  const span = Math.max(1, end - start);
  return (
    <section aria-labelledby="att-h">
      <h2 id="att-h">Attempts</h2>
      <ol className="timeline">
        {attempts.map((a) => {
          const from = Date.parse(a.startedAt ?? a.assignedAt ?? task.createdAt ?? '');
          const to = a.finishedAt === null ? now : Date.parse(a.finishedAt);
          const left = ((from - start) / span) * 100;
          const width = Math.max(0.5, ((to - from) / span) * 100);
          return (
            <li key={a.attempt}>
              <span className="att-n">#{a.attempt}</span>
              <StatusBadge status={a.status} />
              <span className="att-bar" aria-hidden="true">
                <span className={`fill st-${a.status}`} style={{ left: `${left}%`, width: `${width}%` }} />
              </span>
              <span className="small">
                {clock(a.startedAt ?? a.assignedAt)} · {between(a.startedAt, a.finishedAt, now)}
                {a.exitCode === null ? '' : ` · exit ${a.exitCode}`}
                {a.signal === null ? '' : ` · ${a.signal}`}
                {a.reason === null ? '' : ` · ${a.reason}`}
                {a.bridge === null ? '' : ` · bridge ${a.bridge}`}
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Output({ chunks, archived }: { chunks: Parameters<typeof segments>[0]; archived: string | null }) {
  const box = useRef<HTMLPreElement>(null);
  const [follow, setFollow] = useState(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls when output grows
  useEffect(() => {
    const el = box.current;
    if (follow && el !== null) el.scrollTop = el.scrollHeight;
  }, [chunks.length, follow]);
  if (chunks.length === 0) {
    return (
      <p className="muted">{archived === null ? 'No output yet.' : `Output archived to ${archived}.`}</p>
    );
  }
  let attempt = 0;
  return (
    <>
      <label className="inline">
        <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow the
        end
      </label>
      {/* Chromium and Firefox let the keyboard reach a scrolling box by themselves. */}
      <pre
        className="output"
        ref={box}
        role="log"
        aria-live="off"
        aria-label="Task output"
        data-testid="output"
      >
        {segments(chunks).map((s) => {
          const head =
            s.attempt !== attempt ? (
              <span className="att-head" key={`h${s.key}`}>
                {`── attempt ${s.attempt} ──\n`}
              </span>
            ) : null;
          attempt = s.attempt;
          return [
            head,
            <span key={s.key} className={`out-${s.stream}`} data-stream={s.stream}>
              {s.text}
            </span>,
          ];
        })}
      </pre>
      <p className="muted small">
        <span className="out-stdout">stdout</span> · <span className="out-stderr">stderr</span> ·{' '}
        <span className="out-system">rediacc</span>
      </p>
    </>
  );
}

function CancelButton({ id, onDone }: { id: string; onDone: () => void }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  if (!asking) {
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        Cancel task
      </button>
    );
  }
  return (
    <fieldset className="confirm">
      <legend className="sr-only">Confirm cancel</legend>
      Stop it?{' '}
      <button
        type="button"
        className="danger"
        // biome-ignore lint/a11y/noAutofocus: the confirmation takes the focus the button had
        autoFocus
        onClick={() =>
          api.cancelTask(id).then(
            () => {
              setAsking(false);
              onDone();
            },
            (e: Error) => setError(e),
          )
        }
      >
        Yes, cancel
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        No
      </button>
      <ErrorNote error={error} />
    </fieldset>
  );
}

function RetryButton({ id, onDone }: { id: string; onDone: () => void }) {
  const [error, setError] = useState<Error | null>(null);
  return (
    <>
      <button
        type="button"
        onClick={() =>
          api.retryTask(id).then(
            () => onDone(),
            (e: Error) => setError(e),
          )
        }
      >
        Retry
      </button>
      <ErrorNote error={error} />
    </>
  );
}
