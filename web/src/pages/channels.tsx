import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { DataTable } from '../components/data-table';
import { Freshness } from '../components/freshness';
import { ActionsCell, ConfirmDelete, Lead, useAction } from '../components/ops-ui';
import { Unlock } from '../components/ops-vault-unlock';
import { ErrorNote } from '../components/status';
import { ago } from '../format';
import { useLive } from '../live';
import { type Channel, opsApi } from '../ops-api';
import { can, teamsAllowing } from '../permissions';
import { Link } from '../router';
import { teamDataKey } from '../vault-actions';
import { type BrowserKeyring, encryptSecret } from '../vault-crypto';

/** Alerts as they happen and where they went; the teams' notification channels, added and removed here. */
export default function Channels() {
  const { me } = useAuth();
  const alerts = useLive(() => opsApi.alerts(), [], { on: ['tasks'], pollMs: 15_000 });
  const channels = useLive(() => opsApi.channels(), [], { pollMs: 60_000 });
  const teams = useLive(() => api.teams(), [], { pollMs: 300_000 });
  const writable = (
    teamsAllowing(me ?? null, 'channel:write') ?? (teams.data ?? []).map((t) => t.name)
  ).filter((t) => (teams.data ?? []).some((x) => x.name === t));
  return (
    <>
      <div className="page-head">
        <h1>Alerts and channels</h1>
        <Freshness live={alerts} pollMs={15_000} />
      </div>
      <Lead>
        Alerts are raised by failed tasks (with failure action “alert”), machines going offline, old SSH keys
        and long queues; each team’s channels (webhook, Slack, email) carry them out.
      </Lead>
      <h2>Recent alerts</h2>
      <ErrorNote error={alerts.error} />
      <DataTable
        rows={alerts.data}
        label="Recent alerts"
        testId="alerts"
        columns={['When', 'Team', 'Kind', 'Message', 'Delivered']}
        empty="No alerts."
      >
        {(a) => (
          <tr key={a.id}>
            <td title={a.createdAt ?? ''}>{ago(a.createdAt)}</td>
            <td>{a.team}</td>
            <td>
              <code>{a.kind}</code>
            </td>
            <td className="ops-wrap">
              {a.message}
              {a.taskId === null ? null : (
                <>
                  {' '}
                  <Link to={`/tasks/${a.taskId}`}>task</Link>
                </>
              )}
            </td>
            <td className="small">
              {a.deliveries.length === 0
                ? (a.deliveryNote ?? '—')
                : a.deliveries
                    .map((d) => `${d.channel}: ${d.status}${d.lastError ? ` (${d.lastError})` : ''}`)
                    .join('; ')}
            </td>
          </tr>
        )}
      </DataTable>

      <h2>Channels</h2>
      <ErrorNote error={channels.error} />
      <DataTable
        rows={channels.data}
        label="Notification channels"
        testId="channels"
        columns={[
          'Team',
          'Name',
          'Type',
          'Goes to',
          { label: 'Secrets in the vault', className: 'hide-narrow' },
          writable.length > 0 && 'Actions',
        ]}
        empty="No channels: alerts are kept here only."
      >
        {(c) => (
          <ChannelRow
            key={`${c.team}/${c.name}`}
            c={c}
            canWrite={can(me ?? null, 'channel:write', c.team)}
            onGone={channels.reload}
            showActions={writable.length > 0}
          />
        )}
      </DataTable>
      {writable.length > 0 ? <AddChannel teams={writable} onDone={channels.reload} /> : null}
      <h2>Alert rules</h2>
      <p className="muted small">
        Which alerts reach a team’s channels (changed with rediacc update alert-rules TEAM).
      </p>
      {(teams.data ?? [])
        .filter((t) => can(me ?? null, 'alert:read', t.name))
        .map((t) => (
          <Rules key={t.name} team={t.name} />
        ))}
    </>
  );
}

function Rules({ team }: { team: string }) {
  const rules = useLive(() => opsApi.alertRules(team), [team], { pollMs: 300_000 });
  const r = rules.data?.rules ?? {};
  const show = (v: unknown) =>
    typeof v === 'boolean' ? (v ? 'on' : 'off') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return (
    <section className="card" data-rules={team} aria-label={`Alert rules of ${team}`}>
      <strong>{team}</strong>{' '}
      <span className="small">
        {Object.entries(r)
          .map(([k, v]) => `${k}: ${show(v)}`)
          .join(' · ')}
        {rules.data?.maxKeyAgeDays == null ? '' : ` · SSH keys older than ${rules.data.maxKeyAgeDays} days`}
      </span>
      <ErrorNote error={rules.error} />
    </section>
  );
}

function target(c: Channel): string {
  if (c.type === 'webhook') return c.url ?? '';
  if (c.type === 'slack') return 'the Slack URL in the vault';
  return `${(c.to ?? []).join(', ')} via ${c.smtp?.host ?? '?'}:${c.smtp?.port ?? '?'}`;
}

function ChannelRow({
  c,
  canWrite,
  onGone,
  showActions,
}: {
  c: Channel;
  canWrite: boolean;
  onGone: () => void;
  showActions: boolean;
}) {
  const test = useAction();
  const [result, setResult] = useState<string | null>(null);
  return (
    <tr data-channel={c.name}>
      <td>{c.team}</td>
      <td>{c.name}</td>
      <td>{c.type}</td>
      <td className="ops-wrap">{target(c)}</td>
      <td className="hide-narrow small">{c.secretKeys.join(', ')}</td>
      <ActionsCell show={showActions} allowed={canWrite}>
        <button
          type="button"
          disabled={test.busy}
          onClick={() =>
            void test.run(async () => {
              const r = await opsApi.testChannel(c.team, c.name);
              setResult(r.ok ? `sent in ${r.durationMs} ms` : `failed: ${r.error ?? 'no answer'}`);
            })
          }
        >
          Send a test
        </button>
        <ConfirmDelete
          what={`channel ${c.name}`}
          remove={() => opsApi.deleteChannel(c.team, c.name)}
          onGone={onGone}
        />
        {result === null ? null : <output className="small">{result}</output>}
        <ErrorNote error={test.error} />
      </ActionsCell>
    </tr>
  );
}

function AddChannel({ teams, onDone }: { teams: string[]; onDone: () => void }) {
  const [ring, setRing] = useState<BrowserKeyring | null>(null);
  const [team, setTeam] = useState(teams[0] ?? '');
  const [type, setType] = useState('webhook');
  const action = useAction();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const get = (k: string) => String(f.get(k) ?? '').trim();
    const form = e.currentTarget;
    void action.run(async () => {
      const name = get('name');
      const body: Record<string, unknown> = { name, type };
      const secrets: Record<string, string> = {};
      if (type === 'webhook') {
        body.url = get('url');
        secrets.secret = get('secret');
      } else if (type === 'slack') {
        secrets.url = get('slackUrl');
      } else {
        const user = get('smtpUser');
        body.smtp = {
          host: get('smtpHost'),
          port: Number(get('smtpPort') || '587'),
          tls: get('smtpTls'),
          ...(user === '' ? {} : { user }),
        };
        body.from = get('from');
        body.to = get('to')
          .split(/[\s,]+/)
          .filter(Boolean);
        if (user !== '') secrets.password = get('smtpPassword');
      }
      if (Object.keys(secrets).length > 0) {
        if (ring === null) throw new Error('unlock the vault first: the channel’s secret is encrypted here');
        const dataKey = await teamDataKey(ring, team, true);
        const list = await opsApi.vaultList(team);
        body.secrets = await Promise.all(
          Object.entries(secrets).map(async ([key, value]) => {
            const vaultKey = `channel/${name}/${key}`;
            const current = list.find((s) => s.name === vaultKey)?.version ?? 0;
            return {
              key,
              ciphertext: await encryptSecret(dataKey, team, vaultKey, current + 1, value),
              expectedVersion: current,
            };
          }),
        );
      }
      await opsApi.createChannel(team, body);
      form.reset();
      onDone();
    });
  };
  return (
    <section className="card ops-form" aria-labelledby="add-ch-h">
      <h2 id="add-ch-h">Add a channel</h2>
      {ring === null ? (
        <>
          <p className="muted small">
            Its secret (signing secret, Slack URL, SMTP password) is encrypted in this browser.
          </p>
          <Unlock onOpen={setRing} />
        </>
      ) : null}
      <form onSubmit={submit} className="ops-form" autoComplete="off">
        <div className="row">
          <label>
            Team
            <select value={team} onChange={(e) => setTeam(e.target.value)}>
              {teams.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input name="name" required />
          </label>
          <label>
            Type
            <select value={type} onChange={(e) => setType(e.target.value)}>
              <option value="webhook">webhook</option>
              <option value="slack">slack</option>
              <option value="email">email</option>
            </select>
          </label>
        </div>
        {type === 'webhook' ? (
          <div className="row">
            <label className="grow">
              URL
              <input name="url" type="url" required placeholder="https://hooks.example.com/rediacc" />
            </label>
            <label>
              Signing secret
              <input name="secret" type="password" required autoComplete="off" />
            </label>
          </div>
        ) : type === 'slack' ? (
          <label>
            Slack incoming-webhook URL (kept in the vault)
            <input name="slackUrl" type="password" required autoComplete="off" />
          </label>
        ) : (
          <>
            <div className="row">
              <label className="grow">
                SMTP host
                <input name="smtpHost" required />
              </label>
              <label>
                Port
                <input name="smtpPort" inputMode="numeric" defaultValue="587" />
              </label>
              <label>
                TLS
                <select name="smtpTls" defaultValue="starttls">
                  <option>starttls</option>
                  <option>tls</option>
                  <option>none</option>
                </select>
              </label>
            </div>
            <div className="row">
              <label>
                SMTP user
                <input name="smtpUser" />
              </label>
              <label>
                SMTP password (if a user)
                <input name="smtpPassword" type="password" autoComplete="off" />
              </label>
            </div>
            <div className="row">
              <label>
                From
                <input name="from" type="email" required />
              </label>
              <label className="grow">
                To (commas between)
                <input name="to" required />
              </label>
            </div>
          </>
        )}
        <button type="submit" className="primary" disabled={action.busy}>
          Add channel
        </button>
        <ErrorNote error={action.error} />
      </form>
    </section>
  );
}
