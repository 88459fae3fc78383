import { type FormEvent, useMemo, useState } from 'react';
import { ApiError, api } from '../api';
import { useAuth } from '../auth';
import { Field } from '../components/field';
import { ErrorNote } from '../components/status';
import { useLive } from '../live';
import { teamsAllowing } from '../permissions';
import { Link, navigate } from '../router';
import type { Machine } from '../types';

type Target = 'machine' | 'machines' | 'select';
interface EnvRow {
  name: string;
  kind: 'plain' | 'vault';
  value: string;
}

const PRIORITIES = [
  [1, 'critical: runs now, may exceed the machine’s slots'],
  [2, 'high'],
  [3, 'normal'],
  [4, 'background'],
  [5, 'low'],
] as const;

/** "key=value,key2=value2" → labels; throws on a malformed pair. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`'${part}' is not key=value`);
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  if (Object.keys(labels).length === 0) throw new Error('give at least one key=value');
  return labels;
}

/** The create-task form: one machine, several (a fan-out) or a label selector, with every task option. */
export default function NewTask() {
  const { me } = useAuth();
  const allowed = teamsAllowing(me ?? null, 'task:create');
  const machines = useLive(() => api.machines(), [], { pollMs: 30_000 });
  const usable = useMemo(
    () => (machines.data ?? []).filter((m) => allowed === null || allowed.includes(m.team)),
    [machines.data, allowed],
  );
  const teams = useMemo(() => [...new Set(usable.map((m) => m.team))].sort(), [usable]);

  const [target, setTarget] = useState<Target>('machine');
  const [machine, setMachine] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [pickFilter, setPickFilter] = useState('');
  const [selector, setSelector] = useState('');
  const [selectTeam, setSelectTeam] = useState('');
  const [all, setAll] = useState(false);
  const [priority, setPriority] = useState(3);
  const [command, setCommand] = useState('');
  const [retryCount, setRetryCount] = useState(0);
  const [retryDelay, setRetryDelay] = useState(5);
  const [backoff, setBackoff] = useState<'fixed' | 'exponential'>('fixed');
  const [failureAction, setFailureAction] = useState<'none' | 'alert'>('none');
  const [timeout, setTimeoutSeconds] = useState('');
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const chosen = target === 'machine' ? machine || usable[0]?.name || '' : '';
  const team =
    target === 'select'
      ? selectTeam || teams[0] || ''
      : (usable.find((m) => m.name === (target === 'machine' ? chosen : picked[0]))?.team ?? '');
  const vault = useLive(() => (team === '' ? Promise.resolve([]) : api.vaultKeys(team)), [team], {
    pollMs: 60_000,
  });

  if (allowed !== null && allowed.length === 0) {
    return (
      <>
        <h1>New task</h1>
        <p>Your role does not allow creating tasks (operators and maintainers of a team may).</p>
      </>
    );
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const body: Record<string, unknown> = { command, priority, retryCount, failureAction };
    try {
      if (target === 'machine') body.machine = chosen;
      else if (target === 'machines') {
        if (picked.length === 0) throw new Error('pick at least one machine');
        body.machines = picked;
      } else {
        body.select = parseLabels(selector);
        body.team = team;
        if (all) body.all = true;
      }
      if (retryCount > 0) {
        body.retryDelay = retryDelay;
        body.backoff = backoff;
      }
      if (timeout.trim() !== '') body.timeout = Number(timeout);
      const rows = env.filter((r) => r.name.trim() !== '');
      if (rows.length > 0) {
        body.env = Object.fromEntries(
          rows.map((r) => [r.name.trim(), r.kind === 'vault' ? `vault:${r.value}` : r.value]),
        );
      }
    } catch (err) {
      setError(err as Error);
      return;
    }
    setBusy(true);
    try {
      const created = await api.createTask(body);
      if ('taskId' in created) navigate(`/tasks/${created.taskId}`);
      else navigate(`/tasks?batch=${created.batchId}`);
    } catch (err) {
      setError(
        err instanceof ApiError && err.field !== undefined ? new Error(`${err.message}`) : (err as Error),
      );
    } finally {
      setBusy(false);
    }
  };

  const visiblePick = usable.filter((m) => m.name.includes(pickFilter.trim()));
  return (
    <>
      <h1>New task</h1>
      <form className="task-form" onSubmit={submit} aria-label="New task">
        <fieldset>
          <legend>Where</legend>
          <div className="radios">
            {(
              [
                ['machine', 'One machine'],
                ['machines', 'Several machines'],
                ['select', 'By labels'],
              ] as const
            ).map(([v, label]) => (
              <label key={v} className="inline">
                <input
                  type="radio"
                  name="target"
                  value={v}
                  checked={target === v}
                  onChange={() => setTarget(v)}
                />{' '}
                {label}
              </label>
            ))}
          </div>
          {target === 'machine' ? (
            <Field label="Machine">
              {(id) => (
                <select id={id} value={chosen} onChange={(e) => setMachine(e.target.value)} required>
                  {usable.map((m) => (
                    <option key={m.name} value={m.name}>
                      {m.name} ({m.team}, {m.status})
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
          {target === 'machines' ? (
            <div>
              <label>
                Filter machines
                <input
                  value={pickFilter}
                  onChange={(e) => setPickFilter(e.target.value)}
                  placeholder="name contains"
                />
              </label>
              <fieldset className="pick-list">
                <legend className="sr-only">Machines</legend>
                {visiblePick.map((m: Machine) => (
                  <label key={m.name} className="inline">
                    <input
                      type="checkbox"
                      checked={picked.includes(m.name)}
                      onChange={(e) =>
                        setPicked(e.target.checked ? [...picked, m.name] : picked.filter((p) => p !== m.name))
                      }
                    />{' '}
                    {m.name}{' '}
                    <span className="muted">
                      ({m.team}, {m.status})
                    </span>
                  </label>
                ))}
              </fieldset>
              <p className="muted small">
                {picked.length} picked: one task each, created together as a batch.{' '}
                <button
                  type="button"
                  className="link"
                  onClick={() => setPicked(visiblePick.map((m) => m.name))}
                >
                  Pick all shown
                </button>
              </p>
            </div>
          ) : null}
          {target === 'select' ? (
            <>
              <label>
                Labels
                <input
                  value={selector}
                  onChange={(e) => setSelector(e.target.value)}
                  placeholder="role=web,zone=eu"
                  required
                />
              </label>
              <Field label="Team">
                {(id) => (
                  <select id={id} value={team} onChange={(e) => setSelectTeam(e.target.value)}>
                    {teams.map((t) => (
                      <option key={t} value={t}>
                        {t}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <label className="inline">
                <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> On every
                matching machine (otherwise on the least loaded one)
              </label>
            </>
          ) : null}
        </fieldset>

        <label>
          Command
          <textarea
            value={command}
            onChange={(e) => setCommand(e.target.value)}
            required
            rows={3}
            spellCheck={false}
            placeholder="systemctl restart webserver"
          />
        </label>
        <Field label="Priority">
          {(id) => (
            <select id={id} value={priority} onChange={(e) => setPriority(Number(e.target.value))}>
              {PRIORITIES.map(([p, label]) => (
                <option key={p} value={p}>
                  {p} — {label}
                </option>
              ))}
            </select>
          )}
        </Field>

        <fieldset>
          <legend>When it fails</legend>
          <div className="row">
            <label>
              Retries
              <input
                type="number"
                min={0}
                max={100}
                value={retryCount}
                onChange={(e) => setRetryCount(Number(e.target.value))}
              />
            </label>
            <label>
              Delay (s)
              <input
                type="number"
                min={0}
                max={86400}
                step="any"
                value={retryDelay}
                disabled={retryCount === 0}
                onChange={(e) => setRetryDelay(Number(e.target.value))}
              />
            </label>
            <Field label="Backoff">
              {(id) => (
                <select
                  id={id}
                  value={backoff}
                  disabled={retryCount === 0}
                  onChange={(e) => setBackoff(e.target.value as 'fixed' | 'exponential')}
                >
                  <option value="fixed">fixed</option>
                  <option value="exponential">exponential, with jitter</option>
                </select>
              )}
            </Field>
            <Field label="After the last attempt">
              {(id) => (
                <select
                  id={id}
                  value={failureAction}
                  onChange={(e) => setFailureAction(e.target.value as 'none' | 'alert')}
                >
                  <option value="none">nothing</option>
                  <option value="alert">alert the team</option>
                </select>
              )}
            </Field>
            <label>
              Timeout (s)
              <input
                type="number"
                min={1}
                max={604800}
                step="any"
                value={timeout}
                placeholder="none"
                onChange={(e) => setTimeoutSeconds(e.target.value)}
              />
            </label>
          </div>
        </fieldset>

        <fieldset>
          <legend>Environment</legend>
          {env.map((row, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity but their place
            <div className="row env-row" key={i}>
              <label>
                Name
                <input
                  value={row.name}
                  pattern="[A-Za-z_][A-Za-z0-9_]*"
                  onChange={(e) => setEnv(env.map((r, j) => (j === i ? { ...r, name: e.target.value } : r)))}
                />
              </label>
              <Field label="From">
                {(id) => (
                  <select
                    id={id}
                    value={row.kind}
                    onChange={(e) =>
                      setEnv(
                        env.map((r, j) =>
                          j === i ? { ...r, kind: e.target.value as EnvRow['kind'], value: '' } : r,
                        ),
                      )
                    }
                  >
                    <option value="plain">plain value</option>
                    <option value="vault">team vault</option>
                  </select>
                )}
              </Field>
              {row.kind === 'plain' ? (
                <label className="grow">
                  Value
                  <input
                    value={row.value}
                    onChange={(e) =>
                      setEnv(env.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))
                    }
                  />
                </label>
              ) : (
                <Field label="Vault key" className="grow">
                  {(id) => (
                    <select
                      id={id}
                      value={row.value}
                      required
                      onChange={(e) =>
                        setEnv(env.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))
                      }
                    >
                      <option value="">choose…</option>
                      {(vault.data ?? []).map((k) => (
                        <option key={k.name} value={k.name}>
                          {k.name} (v{k.version})
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              )}
              <button
                type="button"
                onClick={() => setEnv(env.filter((_, j) => j !== i))}
                aria-label={`Remove ${row.name || 'variable'}`}
              >
                Remove
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setEnv([...env, { name: '', kind: 'vault', value: '' }])}>
            Add variable
          </button>
          <p className="muted small">
            Secrets come from the team vault ({team || 'no team'}): the value reaches the command on the
            machine, never this page, the task record or the output (shown as ***).
          </p>
        </fieldset>

        <ErrorNote error={error ?? machines.error} />
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={busy || (target === 'machine' && chosen === '')}
          >
            {busy ? 'Creating…' : 'Create task'}
          </button>
          <Link to="/tasks">Cancel</Link>
        </div>
      </form>
    </>
  );
}
