import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { Freshness } from '../components/freshness';
import { ConfirmButton, Lead, useAction } from '../components/ops-ui';
import { ErrorNote } from '../components/status';
import { ago } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';
import { can } from '../permissions';

/** Bridges (the workers that run tasks) per region; admins add regions and bridges and reset tokens. */
export default function Bridges() {
  const { me } = useAuth();
  const bridges = useLive(() => api.bridges(), [], { pollMs: 10_000 });
  const regions = useLive(() => opsApi.regions(), [], { pollMs: 60_000 });
  const machines = useLive(() => api.machines(), [], { pollMs: 30_000 });
  const isAdmin = can(me ?? null, 'bridge:write');
  const [token, setToken] = useState<{ name: string; token: string } | null>(null);
  const list = bridges.data ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Bridges and regions</h1>
        <Freshness live={bridges} pollMs={10_000} />
      </div>
      <Lead>
        A region groups machines served by the same bridges; a bridge claims the tasks of its region’s
        machines and runs them. A region without an online bridge runs nothing.
      </Lead>
      {token === null ? null : (
        <div className="note" role="status" data-testid="bridge-token">
          Token of bridge <strong>{token.name}</strong>, shown once:{' '}
          <code className="wrap">{token.token}</code>{' '}
          <button type="button" className="link" onClick={() => setToken(null)}>
            Done
          </button>
        </div>
      )}
      <ErrorNote error={bridges.error ?? regions.error} />
      <div className="ops-cards">
        {(regions.data ?? []).map((r) => {
          const here = list.filter((b) => b.region === r.name);
          const online = here.filter((b) => b.online).length;
          const ms = (machines.data ?? []).filter((m) => m.region === r.name).length;
          return (
            <section
              key={r.name}
              className={`card${here.length > 0 && online === 0 ? ' alarm' : ''}`}
              data-region={r.name}
            >
              <h2>Region {r.name}</h2>
              <p className="small">
                {online} of {here.length} bridges online · {ms} machines
                {here.length === 0 && ms > 0 ? ' · no bridge: its tasks wait' : ''}
              </p>
              <div className="ops-scroll">
                <table aria-label={`Bridges of region ${r.name}`}>
                  <thead>
                    <tr>
                      <th scope="col">Bridge</th>
                      <th scope="col">State</th>
                      <th scope="col">Running</th>
                      <th scope="col">Last seen</th>
                      {isAdmin ? <th scope="col">Token</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {here.map((b) => (
                      <tr key={b.name} data-bridge={b.name}>
                        <td>{b.name}</td>
                        <td>
                          <span className={`badge ${b.online ? 'm-online' : 'm-offline'}`}>
                            {b.online ? 'online' : 'offline'}
                          </span>
                        </td>
                        <td>{b.running}</td>
                        <td title={b.lastSeenAt ?? ''}>{ago(b.lastSeenAt)}</td>
                        {isAdmin ? (
                          <td>
                            <ConfirmButton
                              label="New token"
                              question="Revoke its token and make a new one?"
                              yes="Yes"
                              onConfirm={async () => setToken(await opsApi.resetBridgeToken(b.name))}
                            />
                          </td>
                        ) : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          );
        })}
      </div>
      {isAdmin ? (
        <div className="ops-cards">
          <AddRegion onDone={regions.reload} />
          <AddBridge
            regions={(regions.data ?? []).map((r) => r.name)}
            onDone={(t) => {
              setToken(t);
              bridges.reload();
            }}
          />
        </div>
      ) : null}
    </>
  );
}

function AddRegion({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await opsApi.createRegion(name.trim());
      setName('');
      onDone();
    });
  };
  return (
    <form className="card ops-form" onSubmit={submit} aria-labelledby="add-region-h">
      <h2 id="add-region-h">Add a region</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <button type="submit" disabled={action.busy || name.trim() === ''}>
        Add region
      </button>
      <ErrorNote error={action.error} />
    </form>
  );
}

function AddBridge({
  regions,
  onDone,
}: {
  regions: string[];
  onDone: (t: { name: string; token: string }) => void;
}) {
  const [name, setName] = useState('');
  const [region, setRegion] = useState('default');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      onDone(await opsApi.createBridge(name.trim(), region));
      setName('');
    });
  };
  return (
    <form className="card ops-form" onSubmit={submit} aria-labelledby="add-bridge-h">
      <h2 id="add-bridge-h">Register a bridge</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Region
        <select value={region} onChange={(e) => setRegion(e.target.value)}>
          {regions.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={action.busy || name.trim() === ''}>
        Register bridge
      </button>
      <p className="muted small">
        Its token is shown once: start the bridge with it (rediacc bridge --url SERVER --token TOKEN).
      </p>
      <ErrorNote error={action.error} />
    </form>
  );
}
