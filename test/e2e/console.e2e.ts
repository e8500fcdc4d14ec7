/// <reference lib="dom" />
/**
 * The operator console as a person uses it, in Chromium against serve mode on the demo world. Serve mode
 * validates bearer tokens for the API app (TENANT_FLEET_HTTP_AUTH=appservice), so one server holds an
 * admin (every role) and a read-only operator (Fleet.Read), each signed in with a token the sandbox's
 * Entra issues for the API app. The browser sends it on every request (`extraHTTPHeaders`), as the
 * platform's session does in Azure. Screenshots of each view go to reports/console/ (git-ignored).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../support/csv.js';
import type { BrowserContext, Page } from 'playwright-core';
import { ADMIN, openBrowser, root, screenshots, startServe, type ServeProcess } from './browser.js';

let serve: ServeProcess;
let admin: Awaited<ReturnType<typeof openBrowser>>;
let page: Page;

const WOODGROVE = 'db12c04c-a1ff-49c1-8284-90f74dea91d8';

beforeAll(async () => {
  serve = await startServe({ TENANT_FLEET_HTTP_AUTH: 'appservice' });
  // bypassCSP only so that axe-core can be injected; the CSP itself is checked by a test below.
  admin = await openBrowser({ headers: (await serve.operator(ADMIN)).headers, bypassCSP: true });
  page = await admin.context.newPage();
});
afterAll(async () => {
  await admin?.close();
  if (serve) expect(await serve.stop()).toBe(0);
});

const view = (path: string): string => `${serve.baseUrl}/api/console/${path}`;

async function shoot(target: Page, name: string): Promise<void> {
  await target.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** axe-core in the page: the serious and critical violations (ids and the first offending node). */
async function axeProblems(target: Page): Promise<string[]> {
  await target.addScriptTag({ path: join(root, 'node_modules', 'axe-core', 'axe.min.js') });
  const violations = await target.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(): Promise<{
            violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
          }>;
        };
      }
    ).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.impact} ${violation.id}: ${violation.nodes[0]?.target.join(' ')}`);
}

async function api<T>(
  context: BrowserContext,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const response = await context.request.fetch(`${serve.baseUrl}/api/${path}`, {
    method,
    ...(body !== undefined ? { data: body } : {}),
  });
  return { status: response.status(), json: (await response.json().catch(() => undefined)) as T };
}

describe('the console, as an admin', () => {
  it('overview: lists the demo tenants, AdventureWorks failing on AADSTS700016 with its fix', async () => {
    await page.goto(view('overview'));
    await page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
    for (const name of ['Litware', 'Fabrikam', 'Northwind Traders', 'AdventureWorks', 'Woodgrove Bank'])
      await expect(page.locator(`tr[data-tenant="${name}"]`).count()).resolves.toBe(1);
    const adventureWorks = page.locator('tr[data-tenant="AdventureWorks"]');
    await expect(adventureWorks.locator('.badge').first().innerText()).resolves.toContain('Failing');
    const text = await adventureWorks.innerText();
    expect(text).toContain('AADSTS700016');
    expect(text).toMatch(/Fix:.*adminconsent\?client_id=/s);
    // The fix's consent link is a real link, and the row links to what to do.
    await expect(adventureWorks.locator('a[href*="adminconsent"]').count()).resolves.toBe(1);
    await expect(
      adventureWorks.getByRole('link', { name: /What to do/ }).getAttribute('href'),
    ).resolves.toMatch(/\/api\/console\/onboarding\/[0-9a-f-]{36}$/);
    await shoot(page, 'overview');
    expect(await axeProblems(page)).toEqual([]);
  });

  it('explorer: filters by type; its CSV export holds exactly the API rows', async () => {
    await page.goto(view('inventory'));
    await page.getByRole('heading', { name: 'Inventory explorer' }).waitFor();
    await page.getByLabel('Type').selectOption('microsoft.compute/disks');
    // The rows shown are the filtered page's (not the previous page's, still on screen while loading).
    const filtered = page.waitForResponse(/\/api\/fleet\/inventory\?type=microsoft.compute%2Fdisks/);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/type=microsoft.compute%2Fdisks/);
    await filtered;
    await page.waitForTimeout(100);
    await page.locator('table.resources tbody tr').first().waitFor();
    const types = await page.locator('table.resources tbody tr td:nth-child(2)').allInnerTexts();
    expect(types.length).toBeGreaterThan(0);
    expect(new Set(types.map((type) => type.toLowerCase()))).toEqual(new Set(['microsoft.compute/disks']));
    await shoot(page, 'inventory');
    expect(await axeProblems(page)).toEqual([]);

    // The export link as the page shows it, fetched as the browser would (same session, same filters).
    const link = page.getByRole('link', { name: 'CSV' });
    const href = (await link.getAttribute('href'))!;
    expect(href).toBe('/api/fleet/export/inventory?type=microsoft.compute%2Fdisks&format=csv');
    const exportResponse = await admin.context.request.get(`${serve.baseUrl}${href}`);
    expect(exportResponse.headers()['content-disposition']).toMatch(
      /^attachment; filename="fleet-inventory-/,
    );
    const csv = await exportResponse.text();
    const [header, ...lines] = parseCsv(csv);
    const idColumn = header!.indexOf('resourceId');
    const exported = lines.map((line) => line[idColumn]).sort();
    const rows: string[] = [];
    let token = '';
    do {
      const page = await api<{ items: Array<{ resourceId: string }>; continuationToken?: string }>(
        admin.context,
        `fleet/inventory?type=microsoft.compute%2Fdisks&top=100${token ? `&continuationToken=${token}` : ''}`,
      );
      rows.push(...page.json.items.map((item) => item.resourceId));
      token = page.json.continuationToken ?? '';
    } while (token);
    expect(exported).toEqual(rows.sort());
  });

  it('runs: a started run is seen progressing and completing', async () => {
    await page.goto(view('overview'));
    await page.getByRole('button', { name: 'Run now (all tenants)' }).click();
    await page.waitForURL(/\/api\/console\/runs\/\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    const seen = new Set<string>();
    const progress: string[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const status = await page
        .locator('[data-run-status]')
        .getAttribute('data-run-status')
        .catch(() => null);
      const label = await page
        .locator('label[for="run-progress"]')
        .innerText()
        .catch(() => '');
      if (status) seen.add(status);
      if (label && progress.at(-1) !== label) progress.push(label);
      if (status && status !== 'running') break;
      if (Date.now() > deadline) throw new Error(`the run did not finish: ${[...seen].join(', ')}`);
      await page.waitForTimeout(150);
    }
    expect(seen.has('running')).toBe(true);
    expect([...seen].at(-1)).toBe('completedWithErrors');
    expect(progress.at(-1)).toBe('5 of 5 tenants finished');
    expect(progress.length).toBeGreaterThan(1); // it moved while we watched
    // What needs the operator comes first: failed, then partial, then succeeded, by name within each.
    const order = await page
      .locator('tbody tr[data-tenant]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-tenant')));
    expect(order).toEqual(['AdventureWorks', 'Woodgrove Bank', 'Litware', 'Fabrikam', 'Northwind Traders']);
    // Each fix reads as one in the overview: the consent link is a link, a warning's fix is a fix line.
    const adventureWorks = page.locator('tr[data-tenant="AdventureWorks"]');
    await expect(adventureWorks.locator('.fix a[href*="adminconsent"]').count()).resolves.toBe(1);
    await expect(page.locator('tr[data-tenant="Litware"] .fix').count()).resolves.toBe(2);
    await expect(page.locator('tr[data-tenant="Litware"]').innerText()).resolves.toContain(
      'Storage account stlitwarevault01',
    );
    await shoot(page, 'run');
    expect(await axeProblems(page)).toEqual([]);
    await page.goto(view('runs'));
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await shoot(page, 'runs');
  });

  it('runs: a run of some tenants, chosen in the overview, sweeps only those', async () => {
    await page.goto(view('overview'));
    await page.getByRole('checkbox', { name: 'Select Fabrikam for a run' }).check();
    await page.getByRole('checkbox', { name: 'Select Northwind Traders for a run' }).check();
    await page.getByRole('button', { name: 'Run selected (2)' }).click();
    await page.waitForURL(/\/api\/console\/runs\/\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    await page.locator('[data-run-status="completed"]').waitFor({ timeout: 90_000 });
    await expect(page.locator('label[for="run-progress"]').innerText()).resolves.toBe(
      '2 of 2 tenants finished',
    );
    const names = await page
      .locator('tbody tr[data-tenant]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-tenant')));
    expect(names.sort()).toEqual(['Fabrikam', 'Northwind Traders']);
  });

  it('onboarding: verify on Woodgrove Bank shows no visible subscriptions, with the fix', async () => {
    await page.goto(view(`onboarding/${WOODGROVE}`));
    await page.getByRole('button', { name: 'Verify' }).click();
    const step = page.locator('li[data-step="subscriptions"]');
    // Woodgrove was registered when serve mode started: within the propagation grace, verify walks the
    // chain again after 5, 10 and 15 s before it reports (src/core/operations/onboarding.ts).
    await step.waitFor({ timeout: 60_000 });
    const text = await step.innerText();
    expect(text).toContain('Failed');
    expect(text).toContain('NoVisibleSubscriptions');
    expect(text).toMatch(/Fix.*Reader/s);
    expect(text).toContain('likely still propagating; tried 4 times');
    await expect(page.locator('li[data-step="tokenExchange"]').innerText()).resolves.toContain('OK');
    await shoot(page, 'onboarding');
    expect(await axeProblems(page)).toEqual([]);
  });

  it('changes and storage: the views render with public access and refusals called out', async () => {
    await page.goto(view('changes'));
    await page.getByRole('heading', { name: 'Change feed' }).waitFor();
    await page.locator('table.grid tbody tr').first().waitFor();
    await shoot(page, 'changes');
    expect(await axeProblems(page)).toEqual([]);
    await page.goto(view('storage'));
    await page.getByRole('heading', { name: 'Storage' }).waitFor();
    await page.locator('table.grid tbody tr').first().waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('Public (container)');
    expect(text).toMatch(/Refused\s*AuthorizationPermissionMismatch/);
    await shoot(page, 'storage');
    expect(await axeProblems(page)).toEqual([]);
  });

  it('keyboard only: skip link, the nav and the explorer filters work without a mouse', async () => {
    await page.goto(view('overview'));
    await page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
    // Focus is visible: the focused element has an outline.
    await expect(
      page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle),
    ).resolves.not.toBe('none');
    // Tab to the Inventory link in the nav and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Inventory') break;
    }
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/api\/console\/inventory$/);
    await page.getByRole('heading', { name: 'Inventory explorer' }).waitFor();
    // The text filter, typed and submitted with Enter.
    await page.getByLabel('Text').focus();
    await page.keyboard.type('vm-');
    const filtered = page.waitForResponse(/\/api\/fleet\/inventory\?q=vm-/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=vm-/);
    await filtered;
    await page.waitForTimeout(100);
    await page.locator('table.resources tbody tr').first().waitFor();
    const names = await page.locator('table.resources tbody tr td:first-child').allInnerTexts();
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name.toLowerCase()).toContain('vm-');
  });

  it('serves the console with a strict CSP (no inline script, this origin only)', async () => {
    const response = await admin.context.request.get(view('overview'), { headers: { accept: 'text/html' } });
    expect(response.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(response.headers()['content-security-policy']).not.toContain('unsafe');
  });
});

describe('the console, as a read-only operator', () => {
  let reader: Awaited<ReturnType<typeof openBrowser>>;
  let readerId: string;
  beforeAll(async () => {
    const operator = await serve.operator(['Fleet.Read']);
    readerId = operator.clientId;
    reader = await openBrowser({ headers: operator.headers });
  });
  afterAll(async () => {
    await reader?.close();
  });

  it('sees no admin actions, and gets 403 when it tries one anyway', async () => {
    const readerPage = await reader.context.newPage();
    await readerPage.goto(view('overview'));
    await readerPage.locator('tr[data-tenant="AdventureWorks"]').waitFor();
    // A client-credentials token names its client: the console shows who the API takes it to be.
    await readerPage.getByText(readerId).waitFor();
    await expect(readerPage.getByRole('button', { name: /Run now/ }).count()).resolves.toBe(0);
    await expect(readerPage.getByRole('button', { name: /Disable/ }).count()).resolves.toBe(0);
    await expect(readerPage.getByRole('columnheader', { name: 'Actions' }).count()).resolves.toBe(0);
    await shoot(readerPage, 'overview-read-only');
    await readerPage.goto(view(`onboarding/${WOODGROVE}`));
    await readerPage.getByText('Verifying needs the Fleet.Admin role.').waitFor();
    const started = await api<{ error: { code: string } }>(reader.context, 'runs', 'POST', {});
    expect(started.status).toBe(403);
    expect(started.json.error.code).toBe('Forbidden');
    const disabled = await api(reader.context, `tenants/${WOODGROVE}`, 'PATCH', {
      enabled: false,
      reason: 'x',
    });
    expect(disabled.status).toBe(403);
  });
});
