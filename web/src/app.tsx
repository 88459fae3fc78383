import { Suspense, useEffect, useRef } from 'react';
import { useAuth } from './auth';
import { LoginPage } from './login';
import { can } from './permissions';
import { Link, match, useLocation, useTitle } from './router';
import { NAV, ROUTES } from './routes';
import type { Me } from './types';

export function App() {
  const { me } = useAuth();
  if (me === undefined) {
    return (
      <p className="boot" aria-busy="true">
        Loading…
      </p>
    );
  }
  if (me === null) return <LoginPage />;
  return <Shell me={me} />;
}

function roleSummary(me: Me): string {
  if (me.admin) return 'admin';
  if (me.teams.length === 0) return 'no team';
  return me.teams.map((t) => `${t.role} in ${t.team}`).join(', ');
}

function Shell({ me }: { me: Me }) {
  const { signOut } = useAuth();
  const { path } = useLocation();
  const found = match(ROUTES, path);
  const main = useRef<HTMLElement>(null);
  useTitle(found?.route.title ?? 'rediacc');
  // Keyboard and screen reader users land on the new page's content after a navigation.
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every navigation
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [path]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          rediacc
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => n.needs === undefined || can(me, n.needs)).map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.active.test(path) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span title={roleSummary(me)}>
            {me.email} <span className="muted">({roleSummary(me)})</span>
          </span>
          <button type="button" className="link" onClick={() => void signOut()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>{found?.route.render(found.params)}</Suspense>
      </main>
    </>
  );
}
