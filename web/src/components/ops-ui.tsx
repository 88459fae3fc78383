import { type ReactNode, useCallback, useState } from 'react';
import { ErrorNote } from './status';

/** A change in progress: whether it runs, its error, and how to start it (errors are caught and shown). */
export function useAction(): {
  busy: boolean;
  error: Error | null;
  run: (fn: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}

/** A button that asks once more before it acts. */
export function ConfirmButton({
  label,
  question,
  yes,
  onConfirm,
  danger = true,
}: {
  label: string;
  question: string;
  yes: string;
  onConfirm: () => Promise<unknown>;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const action = useAction();
  if (!asking) {
    return (
      <button type="button" className={danger ? 'danger' : undefined} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm">
      {question}{' '}
      <button
        type="button"
        className={danger ? 'danger' : 'primary'}
        disabled={action.busy}
        // biome-ignore lint/a11y/noAutofocus: the confirmation takes the focus the button had
        autoFocus
        onClick={() => void action.run(onConfirm).then((ok) => ok && setAsking(false))}
      >
        {yes}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        No
      </button>
      <ErrorNote error={action.error} />
    </span>
  );
}

/** A "Delete" button that asks "Delete <what>?" first, deletes, then says it is gone (e.g. to reload the list). */
export function ConfirmDelete({
  what,
  remove,
  onGone,
  label = 'Delete',
}: {
  what: string;
  remove: () => Promise<unknown>;
  onGone: () => void;
  label?: string;
}) {
  return (
    <ConfirmButton
      label={label}
      question={`Delete ${what}?`}
      yes="Yes, delete"
      onConfirm={async () => {
        await remove();
        onGone();
      }}
    />
  );
}

/** A row's actions cell: there when the table has an actions column, empty where this row may not change. */
export function ActionsCell({
  show,
  allowed,
  children,
}: {
  show: boolean;
  allowed: boolean;
  children: ReactNode;
}) {
  if (!show) return null;
  return <td className="ops-actions">{allowed ? children : null}</td>;
}

/** A choice of team, shown only when there is more than one. */
export function TeamSelect({
  teams,
  value,
  onChange,
  label = 'Team',
}: {
  teams: string[];
  value: string;
  onChange: (team: string) => void;
  label?: string;
}) {
  if (teams.length <= 1) return null;
  return (
    <label className="inline">
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {teams.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A short explanation under a page title. */
export function Lead({ children }: { children: ReactNode }) {
  return <p className="muted lead">{children}</p>;
}
