import { useState } from 'react';
import { Freshness } from '../components/freshness';
import { CountsBar } from '../components/ops-counts-bar';
import { Lead } from '../components/ops-ui';
import { ErrorNote } from '../components/status';
import { ago, shortId } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';
import { Link } from '../router';

/** Batches (fan-outs, rollouts, JSONL imports) newest first, with how far each got. */
export default function Batches() {
  const [before, setBefore] = useState<string[]>([]);
  const cursor = before.at(-1);
  const list = useLive(() => opsApi.batches(cursor), [cursor], { on: ['tasks'], pollMs: 10_000 });
  const rows = list.data ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Batches</h1>
        <Freshness live={list} pollMs={10_000} />
      </div>
      <Lead>
        Tasks created together: a fan-out over machines, a rollout, a file of tasks. Open one for its grid.
      </Lead>
      <ErrorNote error={list.error} />
      <div className="table-wrap">
        <table aria-label="Batches" data-testid="batches">
          <thead>
            <tr>
              <th scope="col">Batch</th>
              <th scope="col">Created</th>
              <th scope="col">Tasks</th>
              <th scope="col">Progress</th>
              <th scope="col" className="hide-narrow">
                Team
              </th>
              <th scope="col">Command</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((b) => (
              <tr key={b.batchId} data-batch={b.batchId}>
                <td>
                  <Link to={`/batches/${b.batchId}`} title={b.batchId}>
                    <code>{shortId(b.batchId)}</code>
                  </Link>
                </td>
                <td title={b.createdAt ?? ''}>
                  {ago(b.createdAt)}
                  {b.createdBy === null ? '' : <span className="muted small"> by {b.createdBy}</span>}
                </td>
                <td>{b.total}</td>
                <td className="ops-progress-cell">
                  <CountsBar counts={b.counts} total={b.total} />
                </td>
                <td className="hide-narrow">{b.teams.join(', ')}</td>
                <td className="command">
                  <code>{b.command}</code>
                  {b.commands > 1 ? <span className="muted small"> and other commands</span> : null}
                </td>
              </tr>
            ))}
            {list.data !== undefined && rows.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No batches {before.length > 0 ? 'older than these' : 'yet'}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={before.length === 0} onClick={() => setBefore(before.slice(0, -1))}>
          ← Newer
        </button>
        <button
          type="button"
          disabled={rows.length < 25}
          onClick={() => setBefore([...before, rows.at(-1)?.batchId as string])}
        >
          Older →
        </button>
      </nav>
    </>
  );
}
