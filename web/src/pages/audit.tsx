import { type FormEvent, useState } from 'react';
import { DataTable } from '../components/data-table';
import { Lead, useAction } from '../components/ops-ui';
import { Pager, useCursorStack } from '../components/pager';
import { ErrorNote } from '../components/status';
import { clock } from '../format';
import { useLive } from '../live';
import { type AuditFilter, type AuditVerify, opsApi } from '../ops-api';
import { navigate, useLocation } from '../router';

const FIELDS = ['actor', 'action', 'target', 'team', 'since', 'until'] as const;
const PAGE = 100;

/** A datetime-local value (the browser's time) as the API's UTC ISO time, or undefined. */
function toIso(local: string | null): string | undefined {
  if (local === null || local === '') return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The audit log, newest first, filtered by the server; and a check of its hash chain. */
export default function Audit() {
  const { query } = useLocation();
  const filter: AuditFilter = {};
  for (const f of FIELDS) {
    const v = query.get(f);
    if (v === null || v === '') continue;
    if (f === 'since' || f === 'until') {
      const iso = toIso(v);
      if (iso !== undefined) filter[f] = iso;
    } else filter[f] = v;
  }
  const before = query.get('before');
  const records = useLive(
    () => opsApi.audit({ ...filter, limit: PAGE, ...(before === null ? {} : { before: Number(before) }) }),
    [JSON.stringify(filter), before],
    { pollMs: 30_000 },
  );
  const older = useCursorStack<string>();

  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const f of FIELDS) {
      const v = String(form.get(f) ?? '').trim();
      if (v !== '') next.set(f, v);
    }
    older.clear();
    navigate(`/audit${next.size === 0 ? '' : `?${next}`}`);
  };
  const page = (to: string | null) => {
    const next = new URLSearchParams(query);
    if (to === null) next.delete('before');
    else next.set('before', to);
    navigate(`/audit?${next}`);
  };
  const rows = records.data ?? [];

  return (
    <>
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <Lead>
        Every change, every refused call and every vault read, in a hash chain: a record changed or removed
        later breaks the chain at that place.
      </Lead>
      <ChainCheck />
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log" key={query.toString()}>
        <label>
          Actor
          <input name="actor" defaultValue={query.get('actor') ?? ''} placeholder="email" />
        </label>
        <label>
          Action
          <input name="action" defaultValue={query.get('action') ?? ''} placeholder="vault, tasks.cancel" />
        </label>
        <label>
          Target
          <input name="target" defaultValue={query.get('target') ?? ''} placeholder="name, or prefix*" />
        </label>
        <label>
          Team
          <input name="team" defaultValue={query.get('team') ?? ''} />
        </label>
        <label>
          From
          <input name="since" type="datetime-local" defaultValue={query.get('since') ?? ''} />
        </label>
        <label>
          Until
          <input name="until" type="datetime-local" defaultValue={query.get('until') ?? ''} />
        </label>
        <button type="submit">Filter</button>
        {query.size > 0 ? (
          <button type="button" className="link" onClick={() => navigate('/audit')}>
            Clear
          </button>
        ) : null}
      </form>
      <ErrorNote error={records.error} />
      <DataTable
        rows={records.data}
        label="Audit records"
        testId="audit-records"
        columns={[
          '#',
          'Time',
          'Actor',
          'Action',
          'Target',
          { label: 'Team', className: 'hide-narrow' },
          'Outcome',
          { label: 'Details', className: 'hide-narrow' },
        ]}
        empty="No records match."
      >
        {(r) => (
          <tr key={r.id} data-audit={r.id}>
            <td>{r.id}</td>
            <td>{clock(r.time)}</td>
            <td>{r.actor}</td>
            <td>
              <code>{r.action}</code>
            </td>
            <td className="ops-wrap">{r.target ?? ''}</td>
            <td className="hide-narrow">{r.team ?? ''}</td>
            <td>
              <span className={`badge out-${r.outcome}`}>{r.outcome}</span>
            </td>
            <td className="hide-narrow ops-wrap small">
              {Object.keys(r.details).length === 0 ? '' : <code>{JSON.stringify(r.details)}</code>}
            </td>
          </tr>
        )}
      </DataTable>
      <Pager
        canNewer={before !== null}
        canOlder={rows.length >= PAGE}
        onNewer={() => {
          const prev = older.pop() ?? null;
          page(prev === '' ? null : prev);
        }}
        onOlder={() => {
          older.push(before ?? '');
          page(String(rows.at(-1)?.id ?? ''));
        }}
      />
    </>
  );
}

function ChainCheck() {
  const [result, setResult] = useState<(AuditVerify & { at: number }) | null>(null);
  const action = useAction();
  const verify = () =>
    void action.run(async () => setResult({ ...(await opsApi.auditVerify()), at: Date.now() }));
  return (
    <section className="card ops-chain" aria-labelledby="chain-h">
      <h2 id="chain-h">Chain verification</h2>
      <button type="button" onClick={verify} disabled={action.busy}>
        {action.busy ? 'Verifying…' : result === null ? 'Verify the chain' : 'Verify again'}
      </button>
      {result === null ? null : (
        <output className={result.ok ? 'ok' : 'error'} data-testid="chain-result">
          {result.ok
            ? `Intact: ${result.checked} records checked, none changed or missing.`
            : `Broken at record ${result.brokenAt}: ${result.problem} (${result.checked} records checked before it).`}
          <span className="muted small"> Checked {clock(new Date(result.at).toISOString())}.</span>
        </output>
      )}
      <ErrorNote error={action.error} />
    </section>
  );
}
