import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireDashboardBuild, watchProblems } from '../helpers/browser.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

/** The page's globals used here (this file compiles without the DOM library). */
type InPage = {
  document: {
    cookie: string;
    activeElement: { textContent: string | null } | null;
    documentElement: { scrollWidth: number };
  };
  innerWidth: number;
};

// The dashboard in a real Chromium against a real server with its embedded
// bridge: log in, create a task from the form and watch its output arrive,
// cancel a running task, and what a viewer is (not) offered.

describe('web dashboard in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let flags: string;

  beforeAll(async () => {
    requireDashboardBuild();
    t = await startTestServer({});
    await userWithRoles(t, 'op@example.com', { default: 'operator' });
    await userWithRoles(t, 'viewer@example.com', { default: 'viewer' });
    browser = await launchBrowser();
    flags = mkdtempSync(join(tmpdir(), 'rediacc-web-flags-'));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    rmSync(flags, { recursive: true, force: true });
  });

  const open = async (viewport = { width: 1280, height: 900 }) => {
    context = await browser.newContext({ viewport });
    page = await context.newPage();
    problems = watchProblems(page);
    await page.goto(`${t.url}/`);
  };
  afterEach(async () => {
    await context?.close();
    expect(problems).toEqual([]);
  });

  const logIn = async (email: string) => {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  };
  const createTask = async (body: Record<string, unknown>) => {
    const r = await t.api('POST', '/tasks', body);
    expect(r.status).toBe(201);
    return r.body.taskId as string;
  };
  const statusOf = async (id: string) => (await t.api('GET', `/tasks/${id}`)).body.status as string;

  it('logs in with email and password using only the keyboard; the cookie is HttpOnly and SameSite=Strict', async () => {
    await open();
    await page.getByLabel('Email').focus();
    await page.keyboard.type('op@example.com');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await expect(page.getByTestId('machines').textContent()).resolves.toMatch(/^\d+ \/ 1$/);

    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({
      name: 'rediacc_session',
      httpOnly: true,
      sameSite: 'Strict',
      secure: false,
    });
    expect(await page.evaluate(() => (globalThis as unknown as InPage).document.cookie)).toBe('');

    // Tab to the main menu's "Tasks" and follow it with Enter.
    for (let i = 0; i < 15; i += 1) {
      await page.keyboard.press('Tab');
      if (
        (await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.textContent)) ===
        'Tasks'
      )
        break;
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tasks');
  });

  it('creates a task from the form and shows its output live, stdout and stderr apart', async () => {
    await open();
    await logIn('op@example.com');
    await page.getByRole('link', { name: 'New task' }).first().click();
    await page.getByRole('heading', { name: 'New task' }).waitFor();
    const flag = join(flags, 'go-on');
    await page.getByLabel('Machine', { exact: true }).selectOption('local');
    await page
      .getByLabel('Command')
      .fill(
        `echo first-line; while [ ! -f ${flag} ]; do sleep 0.1; done; echo to-stderr >&2; echo last-line`,
      );
    await page.getByLabel('Priority').selectOption('1');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').at(-1) as string;

    const output = page.getByTestId('output');
    await output.getByText('first-line').waitFor();
    // The command still waits for the flag: the line arrived live, not at the end.
    expect(await statusOf(id)).toBe('running');
    expect(await page.locator('.page-head .badge').first().textContent()).toBe('running');
    await expect(page.getByText('live', { exact: false }).first().isVisible()).resolves.toBe(true);

    writeFileSync(flag, '');
    await output.locator('[data-stream="stderr"]', { hasText: 'to-stderr' }).waitFor();
    await output.locator('[data-stream="stdout"]', { hasText: 'last-line' }).waitFor();
    await page.locator('.page-head .badge', { hasText: 'completed' }).waitFor();
    expect(await output.locator('[data-stream="stdout"]', { hasText: 'to-stderr' }).count()).toBe(0);

    const task = (await t.api('GET', `/tasks/${id}`)).body;
    expect(task).toMatchObject({
      status: 'completed',
      priority: 1,
      machine: 'local',
      createdBy: 'op@example.com',
    });
  });

  it('cancels a running task', async () => {
    const flag = join(flags, 'never');
    const id = await createTask({
      machine: 'local',
      command: `echo started; while [ ! -f ${flag} ]; do sleep 0.2; done`,
    });
    await waitFor(async () => ((await statusOf(id)) === 'running' ? true : undefined));
    await open();
    await logIn('op@example.com');
    await page.goto(`${t.url}/tasks/${id}`);
    await page.getByTestId('output').getByText('started').waitFor();
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await page.locator('.page-head .badge', { hasText: 'cancelled' }).waitFor();
    expect(await statusOf(id)).toBe('cancelled');
    expect(existsSync(flag)).toBe(false);
    // An ended task offers a retry instead.
    await page.getByRole('button', { name: 'Retry' }).waitFor();
  });

  it('offers a viewer neither create nor cancel, and the API refuses both', async () => {
    const flag = join(flags, 'viewer-never');
    const id = await createTask({ machine: 'local', command: `while [ ! -f ${flag} ]; do sleep 0.2; done` });
    await waitFor(async () => ((await statusOf(id)) === 'running' ? true : undefined));
    await open();
    await logIn('viewer@example.com');
    expect(await page.getByRole('link', { name: 'New task' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Tasks' }).first().click();
    await page.locator(`tr[data-task="${id}"]`).waitFor();
    expect(await page.getByRole('link', { name: 'New task' }).count()).toBe(0);
    await page.locator(`tr[data-task="${id}"] a`).click();
    await page.locator('.page-head .badge', { hasText: 'running' }).waitFor();
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);

    // What the page does not offer, the API refuses to the same session.
    const refused = await page.evaluate(async (taskId) => {
      const me = (await (await fetch('/api/v1/auth/session')).json()) as { csrfToken: string };
      const headers = { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken };
      const create = await fetch('/api/v1/tasks', {
        method: 'POST',
        headers,
        body: JSON.stringify({ machine: 'local', command: 'echo nope' }),
      });
      const cancel = await fetch(`/api/v1/tasks/${taskId}/cancel`, { method: 'POST', headers, body: '{}' });
      return [
        create.status,
        ((await create.json()) as { error: { code: string } }).error.code,
        cancel.status,
        ((await cancel.json()) as { error: { code: string } }).error.code,
      ];
    }, id);
    expect(refused).toEqual([403, 'FORBIDDEN', 403, 'FORBIDDEN']);
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('403 (Forbidden)')));
    expect(await statusOf(id)).toBe('running');

    await page.goto(`${t.url}/tasks/new`);
    await page.getByText('Your role does not allow creating tasks').waitFor();
    await t.api('POST', `/tasks/${id}/cancel`, {});
  });

  it('opens a session with a pasted API token, and logs out for good', async () => {
    await open();
    await page.getByRole('button', { name: 'API token' }).click();
    await page.getByLabel('API token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('admin@localhost').waitFor();
    const [cookie] = await context.cookies();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const reuse = await fetch(`${t.url}/api/v1/auth/session`, {
      headers: { cookie: `${cookie?.name}=${cookie?.value}` },
    });
    expect(reuse.status).toBe(401);
    // The token itself stays valid: only the session ended.
    expect((await t.api('GET', '/auth/session')).status).toBe(200);
  });

  it('falls back to polling when the event stream is unavailable, and says so', async () => {
    await t.api('POST', '/regions', { name: 'unserved' });
    await t.api('POST', '/machines', { name: 'idle', region: 'unserved', concurrency: 1 });
    await open();
    await page.route('**/api/v1/events', (route) => route.abort());
    await logIn('op@example.com');
    await page.getByText('event stream down: polling').first().waitFor();
    const before = Number(await page.getByTestId('pending-4').textContent());
    const id = await createTask({ machine: 'idle', command: 'true', priority: 4 });
    await waitFor(async () =>
      Number(await page.getByTestId('pending-4').textContent()) === before + 1 ? true : undefined,
    );
    await page.goto(`${t.url}/tasks/${id}`);
    await page.getByRole('heading', { name: 'Why it waits' }).waitFor();
    await page.locator('[data-code="NO_BRIDGE"]').waitFor();
    await t.api('POST', `/tasks/${id}/cancel`, {});
    // The aborted stream shows as failed requests in the console; nothing else may.
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('ERR_FAILED')));
  });

  it('fits a phone screen without sideways scrolling', async () => {
    const id = await createTask({ machine: 'local', command: 'echo phone' });
    await open({ width: 390, height: 844 });
    await logIn('op@example.com');
    for (const path of ['/', '/tasks', `/tasks/${id}`, '/tasks/new', '/machines']) {
      await page.goto(`${t.url}${path}`);
      await page.locator('main h1').first().waitFor();
      const overflow = await page.evaluate(() => {
        const w = globalThis as unknown as InPage;
        return w.document.documentElement.scrollWidth - w.innerWidth;
      });
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
  });
});
