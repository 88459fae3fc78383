import { useState } from 'react';
import { api } from '../api';
import { Sparkline } from '../components/charts';
import { Field } from '../components/field';
import { Freshness } from '../components/freshness';
import { ErrorNote, MachineStatus } from '../components/status';
import { ago, bytes, duration, percent } from '../format';
import { useLive, useNow } from '../live';
import { Link } from '../router';
import type { Machine } from '../types';

const PAGE = 48;
const HISTORY_MINUTES = 60;

/** Machines with their status, health over the last hour, labels, host key and key age. */
export default function Machines() {
  const machines = useLive(() => api.machines(), [], { pollMs: 10_000 });
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(0);
  const all = machines.data ?? [];
  const shown = all.filter(
    (m) =>
      (status === '' || m.status === status) &&
      (text === '' ||
        m.name.includes(text) ||
        Object.entries(m.labels).some(([k, v]) => `${k}=${v}`.includes(text)) ||
        m.team.includes(text)),
  );
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = shown.slice(page * PAGE, page * PAGE + PAGE);
  return (
    <>
      <div className="page-head">
        <h1>Machines</h1>
        <Freshness live={machines} pollMs={10_000} />
      </div>
      <form className="filters" aria-label="Filter machines" onSubmit={(e) => e.preventDefault()}>
        <label className="grow">
          Name, team or label
          <input
            type="search"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              setPage(0);
            }}
            placeholder="web-, role=db"
          />
        </label>
        <Field label="Status">
          {(id) => (
            <select
              id={id}
              value={status}
              onChange={(e) => {
                setStatus(e.target.value);
                setPage(0);
              }}
            >
              <option value="">any</option>
              <option value="online">online</option>
              <option value="offline">offline</option>
              <option value="unknown">not reached yet</option>
            </select>
          )}
        </Field>
      </form>
      <ErrorNote error={machines.error} />
      <p className="muted small">
        {shown.length} of {all.length} machines
        {all.length > 0 ? ` · ${all.filter((m) => m.status === 'online').length} online` : ''}
      </p>
      <ul className="machine-grid">
        {current.map((m) => (
          <MachineCard key={m.name} m={m} />
        ))}
      </ul>
      {pages > 1 ? (
        <nav className="pager" aria-label="Pages">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            ← Previous
          </button>
          <span>
            page {page + 1} of {pages}
          </span>
          <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
            Next →
          </button>
        </nav>
      ) : null}
    </>
  );
}

function MachineCard({ m }: { m: Machine }) {
  const now = useNow(30_000);
  const h = m.health;
  const mem = percent(h?.memUsedBytes ?? null, h?.memTotalBytes ?? null);
  const keyAge = m.keyCreatedAt === null ? null : now - Date.parse(m.keyCreatedAt);
  return (
    <li className={`machine card state-${m.status}`} data-machine={m.name}>
      <div className="machine-head">
        <h2>
          <Link to={`/machines/${encodeURIComponent(m.name)}`} title={`History of ${m.name}`}>
            {m.name}
          </Link>
        </h2>
        <MachineStatus status={m.status} />
      </div>
      <p className="muted small">
        {m.team} · region {m.region} ·{' '}
        {m.transport === 'ssh' ? `${m.user ?? ''}${m.user ? '@' : ''}${m.host}:${m.port}` : 'local'}
        {m.statusSince === null ? '' : ` · ${m.status} for ${ago(m.statusSince, now).replace(' ago', '')}`}
      </p>
      <p>
        <Link to={`/tasks?machine=${encodeURIComponent(m.name)}`}>
          {m.running} running / {m.concurrency} slots, {m.pending} waiting
        </Link>
      </p>
      {Object.keys(m.labels).length > 0 ? (
        <ul className="labels" aria-label="Labels">
          {Object.entries(m.labels).map(([k, v]) => (
            <li key={k}>
              {k}={v}
            </li>
          ))}
        </ul>
      ) : null}
      <HealthSparks name={m.name} current={m} />
      <dl className="facts small">
        {m.hostKeyFingerprint === null ? null : (
          <div>
            <dt>Host key</dt>
            <dd>
              <code className="wrap">{m.hostKeyFingerprint}</code>
            </dd>
          </div>
        )}
        {keyAge === null ? null : (
          <div>
            <dt>SSH key age</dt>
            <dd>{duration(keyAge)}</dd>
          </div>
        )}
        {h === null ? null : (
          <div>
            <dt>Disk</dt>
            <dd>
              {bytes(h.diskUsedBytes)} of {bytes(h.diskTotalBytes)}
            </dd>
          </div>
        )}
        {mem === null ? null : (
          <div>
            <dt>Memory</dt>
            <dd>
              {bytes(h?.memUsedBytes ?? null)} of {bytes(h?.memTotalBytes ?? null)}
            </dd>
          </div>
        )}
      </dl>
      {m.lastError === null ? null : <p className="error small">Last error: {m.lastError}</p>}
    </li>
  );
}

const pct = (v: number | null) => (v === null ? '—' : `${Math.round(v)} %`);

function HealthSparks({ name, current }: { name: string; current: Machine }) {
  const history = useLive(() => api.machineHealth(name, HISTORY_MINUTES), [name], { pollMs: 60_000 });
  const points = history.data ?? [];
  const h = current.health;
  const mem = (p: { memUsedBytes: number | null; memTotalBytes: number | null }) =>
    percent(p.memUsedBytes, p.memTotalBytes);
  return (
    <div className="sparks">
      <div>
        <span className="small">CPU {pct(h?.cpuPercent ?? null)}</span>
        <Sparkline values={points.map((p) => p.cpuPercent)} max={100} label={`CPU of ${name}, last hour`} />
      </div>
      <div>
        <span className="small">Memory {pct(mem(h ?? { memUsedBytes: null, memTotalBytes: null }))}</span>
        <Sparkline values={points.map((p) => mem(p))} max={100} label={`Memory of ${name}, last hour`} />
      </div>
      <div>
        <span className="small">Load {h?.load1 == null ? '—' : h.load1.toFixed(2)}</span>
        <Sparkline values={points.map((p) => p.load1)} label={`Load of ${name}, last hour`} />
      </div>
    </div>
  );
}
