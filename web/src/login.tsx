import { type FormEvent, useState } from 'react';
import { ApiError, api } from './api';
import { useAuth } from './auth';
import { useTitle } from './router';

/** Email and password, or an API token (for the quick start's admin token); both open a session cookie. */
export function LoginPage() {
  const { signIn, ended } = useAuth();
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useTitle('Log in');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      signIn(mode === 'password' ? await api.login(email, password) : await api.loginWithToken(token.trim()));
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === 'LOGIN_FAILED'
          ? mode === 'password'
            ? 'Wrong email or password, or the account is disabled.'
            : 'This token is unknown, revoked or expired.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <h1>rediacc</h1>
      {ended ? <p className="note">Your session ended. Log in again.</p> : null}
      <fieldset className="tabs">
        <legend className="sr-only">How to log in</legend>
        <button type="button" aria-pressed={mode === 'password'} onClick={() => setMode('password')}>
          Email and password
        </button>
        <button type="button" aria-pressed={mode === 'token'} onClick={() => setMode('token')}>
          API token
        </button>
      </fieldset>
      <form onSubmit={submit} aria-label="Log in">
        {mode === 'password' ? (
          <>
            <label>
              Email
              <input
                type="email"
                autoComplete="username"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            </label>
            <label>
              Password
              <input
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
          </>
        ) : (
          <label>
            API token
            <input
              type="password"
              autoComplete="off"
              required
              placeholder="rdc_…"
              value={token}
              onChange={(e) => setToken(e.target.value)}
            />
            <small>
              The quick start printed the admin token and saved it to <code>.rediacc/admin-token</code>. It is
              exchanged for a session cookie and not kept in the browser.
            </small>
          </label>
        )}
        {error === null ? null : (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
