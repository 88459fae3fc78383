/**
 * The route for a path and its decoded parameters: the first route whose
 * pattern matches and whose parameters decode. A malformed escape like `%E0`
 * matches no route with parameters, so the catch-all (not found) answers it
 * rather than an error and a blank page. Null when no route matches.
 */
export function match<R extends { pattern: RegExp }>(
  routes: readonly R[],
  path: string,
): { route: R; params: string[] } | null {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    try {
      return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    } catch {
      // URIError: not this route.
    }
  }
  return null;
}
