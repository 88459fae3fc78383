import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WEB_DIR } from '../../src/server/web/static.js';
import { FIRST_LOAD_BUDGET_BYTES, firstLoadJs } from '../../web/build/first-load.js';
import { requireDashboardBuild } from '../helpers/browser.js';

// A build check, not a timing: the JavaScript a first visit loads stays under
// its budget, and the pages beyond the first load only when visited.

describe('dashboard build', () => {
  it(`loads at most ${FIRST_LOAD_BUDGET_BYTES / 1024} KB of gzipped JavaScript on a first visit`, () => {
    requireDashboardBuild();
    const first = firstLoadJs(WEB_DIR);
    expect(first.files.length).toBeGreaterThan(0);
    expect(first.gzipBytes).toBeGreaterThan(10 * 1024); // React is in it: the count did read the files
    expect(first.gzipBytes).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
    process.stderr.write(
      `first load: ${(first.gzipBytes / 1024).toFixed(1)} KB gzipped in ${first.files.length} file(s)\n`,
    );
  });

  it('splits the pages off the first load', () => {
    requireDashboardBuild();
    const html = readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
    const first = firstLoadJs(WEB_DIR).files.map((f) => f.file);
    for (const page of ['task-detail', 'new-task', 'machines', 'tasks', 'overview']) {
      expect(
        first.some((f) => f.includes(`/${page}-`)),
        page,
      ).toBe(false);
    }
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script: the CSP forbids it
  });
});
