import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireDashboardBuild, watchProblems } from '../helpers/browser.js';
import { rediacc } from '../helpers/cli.js';
import { signatureValid, startReceiver } from '../helpers/notify.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

// The operator pages in Chromium against a real server: the vault decrypted
// and encrypted in the browser and read back by the CLI (and the other way),
// with neither the master password nor a value on the wire; the audit log
// and its chain check; teams and bridges; what a viewer is (not) offered.

const MASTER = `web master password ${process.pid}`;
const FROM_CLI = `cli-s3cret-${process.pid}-ünï`;
const FROM_WEB = `web-s3cret-${process.pid}-\u00e9\u00e0 and "quotes"`;

describe('operator pages in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  const cli = (args: string[], input?: string) =>
    rediacc(args, {
      env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_MASTER_PASSWORD: MASTER },
      ...(input === undefined ? {} : { input }),
    });

  beforeAll(async () => {
    requireDashboardBuild();
    // The quick start sets the vault up with this master password (as `rediacc vault init` would).
    t = await startTestServer({ healthIntervalMs: 0, masterPassword: MASTER });
    await userWithRoles(t, 'keeper@example.com', { default: 'maintainer' });
    await userWithRoles(t, 'viewer@example.com', { default: 'viewer' });
    await t.api('POST', '/schedules', {
      name: 'nightly',
      cron: '0 3 * * *',
      machine: 'local',
      command: 'true',
    });
    const set = await cli(['vault', 'set', 'cli/key', '--stdin'], FROM_CLI);
    expect(set.code, set.stderr).toBe(0);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const open = async (email: string | null, viewport = { width: 1280, height: 900 }) => {
    context = await browser.newContext({ viewport });
    page = await context.newPage();
    problems = watchProblems(page);
    await page.goto(`${t.url}/`);
    if (email === null) {
      await page.getByRole('button', { name: 'API token' }).click();
      await page.getByLabel('API token').fill(ADMIN_TOKEN);
    } else {
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
    }
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  };
  afterEach(async () => {
    await context?.close();
    expect(problems).toEqual([]);
  });

  it('sets and reads vault values in the browser, compatible with the CLI, sending neither password nor value', async () => {
    await open('keeper@example.com');
    const sent: { url: string; body: string }[] = [];
    page.on('request', (r: Request) => sent.push({ url: r.url(), body: r.postData() ?? '' }));

    await page.getByRole('link', { name: 'Vault' }).click();
    await page.locator('tr[data-key="cli/key"]').waitFor();
    await page.getByLabel('Master password').fill('not the password');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText('wrong master password').waitFor({ timeout: 30_000 });
    await page.getByLabel('Master password').fill(MASTER);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'Lock the vault' }).waitFor({ timeout: 30_000 });

    // Written by the CLI, read here.
    await page.locator('tr[data-key="cli/key"]').getByRole('button', { name: 'Reveal' }).click();
    await expect(page.getByTestId('vault-value').textContent()).resolves.toBe(FROM_CLI);

    // Written here, read by the CLI.
    await page.getByLabel('Key', { exact: true }).fill('web/key');
    await page.getByLabel('Value', { exact: true }).fill(FROM_WEB);
    await page.getByRole('button', { name: 'Encrypt and store' }).click();
    await page.getByText('Stored web/key (version 1).').waitFor();
    await page.locator('tr[data-key="web/key"]').waitFor();
    const got = await cli(['vault', 'get', 'web/key']);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe(`${FROM_WEB}\n`);

    // A second version from the CLI is read here, at its own version.
    const again = await cli(['vault', 'set', 'web/key', '--stdin'], `${FROM_CLI}-v2`);
    expect(again.code, again.stderr).toBe(0);
    await page.reload();
    await page.getByLabel('Master password').fill(MASTER);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.locator('tr[data-key="web/key"]').getByRole('button', { name: 'Reveal' }).click();
    await expect(page.getByTestId('vault-value').textContent()).resolves.toBe(`${FROM_CLI}-v2`);

    // Nothing secret went out: not in any URL, not in any body, in any usual encoding.
    const forms = (s: string) => [
      s,
      encodeURIComponent(s),
      Buffer.from(s).toString('base64'),
      JSON.stringify(s).slice(1, -1),
    ];
    const secrets = [...forms(MASTER), ...forms(FROM_WEB), ...forms(FROM_CLI)];
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.some((r) => r.url.includes('/vault/web/key') && r.body.includes('"ciphertext"'))).toBe(true);
    for (const r of sent) {
      for (const s of secrets) {
        expect(r.url.includes(s) || r.body.includes(s), `${r.url} ${r.body.slice(0, 200)}`).toBe(false);
      }
    }
  });

  it('adds a webhook channel whose signing secret is encrypted in the browser; its test notice is signed with it', async () => {
    const rx = await startReceiver();
    const SECRET = `whsec-${process.pid}-from-the-browser`;
    try {
      await open('keeper@example.com');
      const sent: string[] = [];
      page.on('request', (r: Request) => sent.push(`${r.url()} ${r.postData() ?? ''}`));
      await page.getByRole('link', { name: 'Alerts' }).click();
      await page.getByLabel('Master password').fill(MASTER);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await page.getByLabel('Signing secret').waitFor({ timeout: 30_000 });
      await page.getByLabel('Name', { exact: true }).fill('hooks');
      await page.getByLabel('URL', { exact: true }).fill(rx.url);
      await page.getByLabel('Signing secret').fill(SECRET);
      await page.getByRole('button', { name: 'Add channel' }).click();
      const row = page.locator('tr[data-channel="hooks"]');
      await row.getByRole('button', { name: 'Send a test' }).click();
      await row.getByText(/^sent in \d+ ms$/).waitFor();
      expect(rx.received).toHaveLength(1);
      expect(signatureValid(rx.received[0] as Parameters<typeof signatureValid>[0], SECRET)).toBe(true);
      expect(sent.some((r) => r.includes('/teams/default/channels') && r.includes('"ciphertext"'))).toBe(
        true,
      );
      expect(sent.filter((r) => r.includes(SECRET) || r.includes(MASTER))).toEqual([]);
    } finally {
      await rx.close();
    }
  });

  it('shows the audit log with filters and the result of the chain verification', async () => {
    await open(null);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page
      .getByTestId('chain-result')
      .getByText(/^Intact: \d+ records checked/)
      .waitFor();

    await page.getByLabel('Action').fill('vault');
    await page.getByLabel('Target').fill('web/*');
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.getByTestId('audit-records').locator('tr[data-audit]');
    await rows.first().waitFor();
    const actions = await rows.locator('td:nth-child(4)').allTextContents();
    // Newest first: the CLI's second write, the reads, the browser's write.
    expect(actions).toContain('vault.set');
    expect(actions).toContain('vault.read');
    expect(new Set(await rows.locator('td:nth-child(5)').allTextContents())).toEqual(new Set(['web/key']));
    const ids = (await rows.evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute('data-audit'))),
    )) as number[];
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new URL(page.url()).search).toContain('target=web%2F*');
  });

  it('manages teams, members and roles, and registers a bridge whose token is shown once', async () => {
    await open('keeper@example.com');
    await page.getByRole('link', { name: 'Teams' }).click();
    const team = page.locator('section[data-team="default"]');
    await team.locator('tr[data-member="viewer@example.com"]').waitFor();
    await t.api('POST', '/users', { email: 'new@example.com', password: PASSWORD });
    await team.getByLabel('Email of a user').fill('new@example.com');
    await team.getByRole('button', { name: 'Add member' }).click();
    await team.locator('tr[data-member="new@example.com"]').waitFor();
    await team.getByLabel('Role of new@example.com').selectOption('operator');
    await expect
      .poll(
        async () =>
          (await t.api('GET', '/teams/default/members')).body.find(
            (m: { email: string }) => m.email === 'new@example.com',
          )?.role,
      )
      .toBe('operator');
    // A maintainer creates no teams; that is an admin's.
    expect(await page.getByRole('button', { name: 'Create team' }).count()).toBe(0);
    await context.close();

    await open(null);
    await page.getByRole('link', { name: 'Bridges' }).click();
    await page.locator('section[data-region="default"] tr[data-bridge]').first().waitFor();
    await page.getByRole('textbox', { name: 'Name' }).last().fill('edge-1');
    await page.getByRole('button', { name: 'Register bridge' }).click();
    const token = await page.getByTestId('bridge-token').locator('code').textContent();
    expect(token).toMatch(/^rdb_/);
    await page.locator('tr[data-bridge="edge-1"]').waitFor();
  });

  it('offers a viewer no write control on the operator pages, and the API refuses anyway', async () => {
    await open('viewer@example.com');
    expect(await page.getByRole('link', { name: 'Audit' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Vault' }).click();
    await page.locator('tr[data-key="cli/key"]').waitFor();
    for (const name of ['Unlock', 'Reveal', 'Delete', 'Encrypt and store']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await page.getByLabel('Master password').count()).toBe(0);

    await page.getByRole('link', { name: 'Teams' }).click();
    await page.locator('section[data-team="default"] tr[data-member]').first().waitFor();
    expect(await page.locator('section[data-team="default"] select').count()).toBe(0);
    for (const name of ['Add member', 'Remove', 'Delete team', 'Create team']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }

    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.locator('tr[data-schedule="nightly"]').waitFor();
    for (const name of ['Pause', 'Delete', 'Add a schedule']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }

    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByTestId('channels').waitFor();
    expect(await page.getByRole('heading', { name: 'Add a channel' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Bridges' }).click();
    await page.locator('section[data-region="default"]').waitFor();
    for (const name of ['New token', 'Register bridge', 'Add region']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }

    const refused = await page.evaluate(async () => {
      const me = (await (await fetch('/api/v1/auth/session')).json()) as { csrfToken: string };
      const headers = { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken };
      const put = await fetch('/api/v1/teams/default/vault/x', {
        method: 'PUT',
        headers,
        body: JSON.stringify({ ciphertext: '{"v":1,"iv":"aaaa","ct":"bbbb"}', expectedVersion: 0 }),
      });
      const read = await fetch('/api/v1/teams/default/vault/cli/key');
      const member = await fetch('/api/v1/teams/default/members', {
        method: 'POST',
        headers,
        body: JSON.stringify({ email: 'viewer@example.com', role: 'maintainer' }),
      });
      const audit = await fetch('/api/v1/audit');
      return [put.status, read.status, member.status, audit.status];
    });
    expect(refused).toEqual([403, 403, 403, 403]);
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('403 (Forbidden)')));
  });

  it('fits the operator pages on a phone screen without sideways scrolling', async () => {
    const batch = (
      await t.api('POST', '/tasks', { tasks: [{ machine: 'local', command: 'echo phone; exit 1' }] })
    ).body.batchId as string;
    await open(null, { width: 390, height: 844 });
    for (const path of [
      '/vault',
      '/audit',
      '/teams',
      '/bridges',
      '/batches',
      `/batches/${batch}`,
      '/search?q=phone',
      '/machines/local',
      '/alerts',
      '/schedules',
    ]) {
      await page.goto(`${t.url}${path}`);
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => {
        const w = globalThis as unknown as {
          document: { documentElement: { scrollWidth: number } };
          innerWidth: number;
        };
        return w.document.documentElement.scrollWidth - w.innerWidth;
      });
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
  });
});
