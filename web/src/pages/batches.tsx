import { DataTable, IdCell } from '../components/data-table';
import { Freshness } from '../components/freshness';
import { CountsBar } from '../components/ops-counts-bar';
import { Lead } from '../components/ops-ui';
import { Pager, useCursorStack } from '../components/pager';
import { ErrorNote } from '../components/status';
import { ago } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';

/** Batches (fan-outs, rollouts, JSONL imports) newest first, with how far each got. */
export default function Batches() {
  const pages = useCursorStack<string>();
  const cursor = pages.top;
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
      <DataTable
        rows={list.data}
        label="Batches"
        testId="batches"
        columns={[
          'Batch',
          'Created',
          'Tasks',
          'Progress',
          { label: 'Team', className: 'hide-narrow' },
          'Command',
        ]}
        empty={`No batches ${pages.depth > 0 ? 'older than these' : 'yet'}.`}
      >
        {(b) => (
          <tr key={b.batchId} data-batch={b.batchId}>
            <IdCell id={b.batchId} to={`/batches/${b.batchId}`} />
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
        )}
      </DataTable>
      <Pager
        canNewer={pages.depth > 0}
        canOlder={rows.length >= 25}
        onNewer={() => pages.pop()}
        onOlder={() => pages.push(rows.at(-1)?.batchId as string)}
      />
    </>
  );
}
