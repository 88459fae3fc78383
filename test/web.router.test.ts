import { describe, expect, it } from 'vitest';
import { match } from '../web/src/route-match.js';

// The dashboard's router: paths to pages, their parameters decoded. A
// malformed escape in a link is a page that does not exist, not a crash.

const routes = [
  { pattern: /^\/tasks\/([^/]+)$/, title: 'Task' },
  { pattern: /^\/machines\/([^/]+)$/, title: 'Machine' },
];

describe('router match', () => {
  it('decodes the parameters of the first matching route', () => {
    expect(match(routes, '/tasks/abc')?.params).toEqual(['abc']);
    expect(match(routes, '/machines/web%201')).toMatchObject({
      route: { title: 'Machine' },
      params: ['web 1'],
    });
    expect(match(routes, '/nowhere')).toBeNull();
  });

  it('passes a malformed escape on to the not-found route instead of throwing', () => {
    const withCatchAll = [...routes, { pattern: /.*/, title: 'Not found' }];
    for (const path of ['/machines/%E0', '/tasks/%', '/tasks/%zz', '/machines/%C3%28']) {
      expect(() => match(routes, path), path).not.toThrow();
      expect(match(routes, path), path).toBeNull();
      expect(match(withCatchAll, path), path).toEqual({
        route: { pattern: /.*/, title: 'Not found' },
        params: [],
      });
    }
  });
});
