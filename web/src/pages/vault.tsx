import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { DataTable } from '../components/data-table';
import { ConfirmDelete, Lead, TeamSelect, useAction } from '../components/ops-ui';
import { Unlock } from '../components/ops-vault-unlock';
import { ErrorNote } from '../components/status';
import { ago } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';
import { can } from '../permissions';
import { navigate, useLocation } from '../router';
import { checkKeyName, revealValue, storeValue } from '../vault-actions';
import type { BrowserKeyring } from '../vault-crypto';

/** The vault locks itself after this long without use; revealed values hide sooner. */
const AUTO_LOCK_MS = 10 * 60_000;
const HIDE_VALUE_MS = 60_000;

/**
 * A team's vault: key names and versions for every member; values shown or
 * set only once the master password is typed, decrypted and encrypted in
 * this browser. What a role may not do is not offered.
 */
export default function Vault() {
  const { me } = useAuth();
  const { query } = useLocation();
  const teams = useLive(() => api.teams(), [], { pollMs: 300_000 });
  const mine = (teams.data ?? []).map((t) => t.name).filter((t) => can(me ?? null, 'vault:list', t));
  const team = query.get('team') ?? mine[0] ?? '';
  const keys = useLive(() => (team === '' ? Promise.resolve([]) : opsApi.vaultList(team)), [team], {
    pollMs: 30_000,
  });
  const [ring, setRing] = useState<BrowserKeyring | null>(null);
  const [shown, setShown] = useState<Record<string, { value: string; version: number }>>({});
  const lastUse = useRef(Date.now());
  const canRead = can(me ?? null, 'vault:read', team);
  const canWrite = can(me ?? null, 'vault:write', team);

  const lock = useCallback(() => {
    setRing(null);
    setShown({});
  }, []);
  // Idle too long: locked; a revealed value hides after a minute.
  useEffect(() => {
    if (ring === null) return;
    const timer = setInterval(() => {
      if (Date.now() - lastUse.current > AUTO_LOCK_MS) lock();
    }, 5_000);
    return () => clearInterval(timer);
  }, [ring, lock]);
  useEffect(() => {
    if (Object.keys(shown).length === 0) return;
    const timer = setTimeout(() => setShown({}), HIDE_VALUE_MS);
    return () => clearTimeout(timer);
  }, [shown]);
  const touch = () => {
    lastUse.current = Date.now();
  };

  return (
    <>
      <div className="page-head">
        <h1>Vault</h1>
        <TeamSelect
          teams={mine}
          value={team}
          onChange={(t) => navigate(`/vault?team=${encodeURIComponent(t)}`)}
        />
        {ring === null ? null : (
          <button type="button" className="ops-push" onClick={lock}>
            Lock the vault
          </button>
        )}
      </div>
      <Lead>
        Values are encrypted and decrypted in this browser with a key made from the master password. Neither
        the password nor a value is sent to the server; it stores ciphertext only.
      </Lead>
      {team === '' ? <p className="muted">You are in no team whose vault you may see.</p> : null}
      {canRead && ring === null && team !== '' ? (
        <Unlock
          onOpen={(r) => {
            touch();
            setRing(r);
          }}
        />
      ) : null}
      {!canRead && team !== '' ? (
        <p className="muted small">
          Your role in {team} shows key names only; reading values needs operator.
        </p>
      ) : null}
      <ErrorNote error={keys.error} />
      <DataTable
        rows={keys.data}
        label={`Vault keys of ${team}`}
        testId="vault-keys"
        columns={[
          'Key',
          'Version',
          { label: 'Changed by', className: 'hide-narrow' },
          'Changed',
          canRead && 'Value',
        ]}
        empty="No keys in this team’s vault yet."
      >
        {(k) => (
          <KeyRow
            key={k.name}
            k={k}
            team={team}
            ring={canRead ? ring : null}
            canWrite={canWrite}
            shown={shown[k.name]}
            onShow={(v) => {
              touch();
              setShown((s) => ({ ...s, [k.name]: v }));
            }}
            onHide={() => setShown(({ [k.name]: _, ...rest }) => rest)}
            onDeleted={keys.reload}
            canRead={canRead}
          />
        )}
      </DataTable>
      {canWrite && ring !== null ? (
        <SetValue
          team={team}
          ring={ring}
          existing={(keys.data ?? []).map((k) => k.name)}
          onStored={() => {
            touch();
            keys.reload();
          }}
        />
      ) : null}
    </>
  );
}

function KeyRow(props: {
  k: { name: string; version: number; updatedBy: string; updatedAt: string | null };
  team: string;
  ring: BrowserKeyring | null;
  canRead: boolean;
  canWrite: boolean;
  shown: { value: string; version: number } | undefined;
  onShow: (v: { value: string; version: number }) => void;
  onHide: () => void;
  onDeleted: () => void;
}) {
  const { k, team, ring, shown } = props;
  const action = useAction();
  return (
    <>
      <tr data-key={k.name}>
        <td>
          <code>{k.name}</code>
        </td>
        <td>{k.version}</td>
        <td className="hide-narrow">{k.updatedBy}</td>
        <td title={k.updatedAt ?? ''}>{ago(k.updatedAt)}</td>
        {props.canRead ? (
          <td className="ops-actions">
            {ring === null ? (
              <span className="muted small">unlock to read</span>
            ) : shown === undefined ? (
              <button
                type="button"
                disabled={action.busy}
                onClick={() =>
                  void action.run(async () => props.onShow(await revealValue(ring, team, k.name)))
                }
              >
                Reveal
              </button>
            ) : (
              <button type="button" onClick={props.onHide}>
                Hide
              </button>
            )}
            {props.canWrite ? (
              <ConfirmDelete
                what={k.name}
                remove={() => opsApi.vaultDelete(team, k.name)}
                onGone={props.onDeleted}
              />
            ) : null}
            <ErrorNote error={action.error} />
          </td>
        ) : null}
      </tr>
      {shown === undefined ? null : (
        <tr className="ops-secret-row">
          <td colSpan={5}>
            <span className="muted small">
              Value of {k.name}, version {shown.version}, decrypted here:
            </span>
            <pre className="ops-secret" data-testid="vault-value">
              {shown.value}
            </pre>
          </td>
        </tr>
      )}
    </>
  );
}

function SetValue({
  team,
  ring,
  existing,
  onStored,
}: {
  team: string;
  ring: BrowserKeyring;
  existing: string[];
  onStored: () => void;
}) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [stored, setStored] = useState<string | null>(null);
  const action = useAction();
  const keyProblem = key === '' ? null : checkKeyName(key);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (keyProblem !== null) return;
    setStored(null);
    void action.run(async () => {
      const r = await storeValue(ring, team, key, value);
      setStored(`Stored ${r.name} (version ${r.version}).`);
      setValue('');
      onStored();
    });
  };
  return (
    <form className="ops-form card" onSubmit={submit} aria-labelledby="set-h" autoComplete="off">
      <h2 id="set-h">Set a value in {team}</h2>
      <label>
        Key
        <input
          value={key}
          onChange={(e) => setKey(e.target.value)}
          list="vault-key-names"
          placeholder="db/password"
          spellCheck={false}
          required
          aria-invalid={keyProblem !== null}
        />
      </label>
      <datalist id="vault-key-names">
        {existing.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      {keyProblem === null ? null : <p className="error small">{keyProblem}</p>}
      <label>
        Value
        <textarea
          value={value}
          onChange={(e) => setValue(e.target.value)}
          rows={3}
          spellCheck={false}
          autoComplete="off"
          autoCorrect="off"
          autoCapitalize="off"
          required
        />
      </label>
      <div className="actions">
        <button type="submit" className="primary" disabled={action.busy || key === '' || keyProblem !== null}>
          Encrypt and store
        </button>
        {stored === null ? null : <output className="ok">{stored}</output>}
      </div>
      <ErrorNote error={action.error} />
    </form>
  );
}
