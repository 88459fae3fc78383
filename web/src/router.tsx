import { type MouseEvent, type ReactNode, useEffect, useSyncExternalStore } from 'react';

/**
 * A small history router: paths are real URLs (the server answers index.html
 * for them), links are plain <a> elements so they work with the keyboard,
 * middle-click and "open in new tab".
 */
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function navigate(to: string, replace = false): void {
  if (to === snapshot()) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const loc = useSyncExternalStore(subscribe, snapshot);
  const [path, search = ''] = loc.split('?');
  return { path: path ?? '/', query: new URLSearchParams(search) };
}

export { match } from './route-match';

export interface Route {
  pattern: RegExp;
  render: (params: string[]) => ReactNode;
  title: string;
}

export function Link(props: {
  to: string;
  children: ReactNode;
  className?: string;
  'aria-current'?: 'page' | undefined;
  title?: string;
}) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a
      href={props.to}
      onClick={onClick}
      className={props.className}
      aria-current={props['aria-current']}
      title={props.title}
    >
      {props.children}
    </a>
  );
}

/** Sets the document title for a page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · rediacc`;
  }, [title]);
}
