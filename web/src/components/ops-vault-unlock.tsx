import { type FormEvent, useState } from 'react';
import { ApiError } from '../api';
import { unlockVault } from '../vault-actions';
import type { BrowserKeyring } from '../vault-crypto';
import { useAction } from './ops-ui';
import { ErrorNote } from './status';

/** Asks for the master password and opens the vault in this browser; the password is not sent. */
export function Unlock({ onOpen }: { onOpen: (ring: BrowserKeyring) => void }) {
  const [password, setPassword] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      setProgress(0);
      try {
        const ring = await unlockVault(password, (p) => setProgress(p));
        setPassword('');
        onOpen(ring);
      } finally {
        setProgress(null);
      }
    });
  };
  const notSetUp = action.error instanceof ApiError && action.error.code === 'VAULT_NOT_INITIALISED';
  return (
    <form className="ops-unlock card" onSubmit={submit} aria-label="Unlock the vault" autoComplete="off">
      <label>
        Master password
        <input
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          required
        />
      </label>
      <button type="submit" className="primary" disabled={action.busy || password === ''}>
        {progress === null ? 'Unlock' : `Deriving the key… ${Math.round(progress * 100)} %`}
      </button>
      {notSetUp ? (
        <p className="note">The vault is not set up yet: an admin runs rediacc vault init.</p>
      ) : (
        <ErrorNote error={action.error} />
      )}
    </form>
  );
}
