// Defends DESIGN §1 "Sessions and cookies" (revoking a device ends its sessions; its next sign-in needs a code again), "New-device verification" (trusted devices are listed and revocable) and "Accounts and companies" (account authorization for every employee by company policy, company console only for verified authorized users), through the account page and the company console in Chromium.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink, isCodeMail } from '../helpers/smtpSink.js';
import { createCompany } from '../../src/flows/provisioning.js';

type User = Awaited<ReturnType<Running['addUser']>>;

let doorman: Running;
let sink: SmtpSink;
let browser: Browser;
const openContexts: BrowserContext[] = [];

beforeAll(async () => {
  sink = await new SmtpSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url });
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(openContexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
  await doorman?.close();
  await sink?.stop();
});

// The browser uses the public URL (the harness's baseUrl), as users do: form posts from any other origin are refused.
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: doorman.baseUrl });
  context.setDefaultTimeout(15_000);
  openContexts.push(context);
  return { context, page: await context.newPage() };
}

const codeMails = (email: string) => sink.to(email).filter(isCodeMail).length;
const pathOf = (page: Page) => new URL(page.url()).pathname;
const mainText = (page: Page) => page.locator('main').innerText();

/** Password step on /login; returns once the browser has left the login page. */
async function logIn(page: Page, user: User): Promise<void> {
  const shown = await page.goto('/login');
  expect(shown?.status(), await shown?.text()).toBe(200);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.getByRole('button', { name: 'Log in' }).click()]);
}

/** Code step on /login/verify with the `n`-th code e-mailed to the user. */
async function verify(page: Page, user: User, n: number, trust: boolean): Promise<void> {
  expect(pathOf(page)).toBe('/login/verify');
  const code = await sink.codeFor(user.email, n);
  await page.getByLabel('Verification code').fill(code);
  if (trust) await page.getByRole('checkbox', { name: 'Trust this device' }).check();
  await Promise.all([page.waitForURL('**/account'), page.getByRole('button', { name: 'Verify' }).click()]);
}

/** Reloads /account; a signed-out browser is sent to /login. */
async function openAccount(page: Page): Promise<string> {
  await page.goto('/account');
  return pathOf(page);
}

/** A company of its own with a verified representative (no account authorization, so the password alone signs in). */
async function companyWithRepresentative(name: string): Promise<{ companyId: string; representative: User }> {
  const companyId = await createCompany(doorman.doorman.ctx, { name });
  const representative = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false, name: `Representative of ${name}` });
  return { companyId, representative };
}

describe('account page and company console in a real browser', () => {
  it('revoking another device on the account page signs that browser out and its next password sign-in asks for a new code', async () => {
    const user = await doorman.addUser();

    const a = await newPage();
    await logIn(a.page, user);
    await verify(a.page, user, 1, true);
    expect(await mainText(a.page)).toContain(user.email);

    const b = await newPage();
    await logIn(b.page, user);
    expect(pathOf(b.page)).toBe('/login/verify');
    await verify(b.page, user, 2, false);

    expect(await openAccount(b.page)).toBe('/account');
    const rows = b.page.locator('section.devices tr').filter({ has: b.page.getByRole('button', { name: 'Revoke' }) });
    await expect.poll(() => rows.count()).toBe(2);
    const others = rows.filter({ hasNotText: '(this device)' });
    expect(await others.count()).toBe(1);
    await Promise.all([b.page.waitForURL((url) => url.pathname === '/account' && url.searchParams.get('saved') === 'revoked'), others.getByRole('button', { name: 'Revoke' }).click()]);
    expect(await b.page.getByRole('status').innerText()).toContain('Done.');
    // B revoked A, not itself.
    expect(await openAccount(b.page)).toBe('/account');

    expect(await openAccount(a.page)).toBe('/login');
    await logIn(a.page, user);
    expect(pathOf(a.page)).toBe('/login/verify');
    await sink.codeFor(user.email, 3);
    expect(codeMails(user.email)).toBe(3);
  });

  it('a representative switching on "Require account authorization for every employee" in the console makes an employee without authorization verify a new browser', async () => {
    const { companyId, representative } = await companyWithRepresentative('Zielińska Transport');
    const employee = await doorman.addUser({ companyId, name: 'Marta Zielińska', twoFactor: false });

    // Before the policy the employee's password alone signs in.
    const before = await newPage();
    await logIn(before.page, employee);
    expect(pathOf(before.page)).toBe('/account');

    const rep = await newPage();
    await logIn(rep.page, representative);
    expect(pathOf(rep.page)).toBe('/account');
    const shown = await rep.page.goto('/company');
    expect(shown?.status()).toBe(200);
    expect(pathOf(rep.page)).toBe('/company');

    const employees = rep.page.locator('section').filter({ has: rep.page.getByRole('heading', { name: 'Employees' }) });
    const martaRow = employees.locator('tr').filter({ hasText: 'Marta Zielińska' });
    expect(await martaRow.count()).toBe(1);
    expect(await martaRow.innerText()).toContain(employee.email);

    const requireAll = rep.page.getByRole('checkbox', { name: 'Require account authorization for every employee' });
    expect(await requireAll.isChecked()).toBe(false);
    await requireAll.check();
    await Promise.all([rep.page.waitForURL((url) => url.pathname === '/company' && url.searchParams.get('saved') === '1'), rep.page.getByRole('button', { name: 'Save' }).click()]);
    expect(await rep.page.getByRole('status').innerText()).toContain('Saved.');
    expect(await rep.page.getByRole('checkbox', { name: 'Require account authorization for every employee' }).isChecked()).toBe(true);
    expect(await martaRow.locator('td').nth(2).innerText()).toBe('yes');

    const fresh = await newPage();
    await logIn(fresh.page, employee);
    expect(pathOf(fresh.page)).toBe('/login/verify');
    await sink.codeFor(employee.email, 1);
    // Half-way through signing in, the account page sends the browser back to its code page.
    await fresh.page.goto('/account');
    expect(pathOf(fresh.page)).toBe('/login/verify');

    // From the moment the policy is on no device is authorized: the browser that signed in before was signed out, and needs a code now.
    expect(await openAccount(before.page)).toBe('/login');
    await logIn(before.page, employee);
    expect(pathOf(before.page)).toBe('/login/verify');
    await sink.codeFor(employee.email, 2);
  });

  it("a representative revoking an employee's trusted device on the employee's console page signs that employee's browser out", async () => {
    const { companyId, representative } = await companyWithRepresentative('Kowalski Cargo');
    const employee = await doorman.addUser({ companyId, name: 'Jan Kowalski' });

    const emp = await newPage();
    await logIn(emp.page, employee);
    await verify(emp.page, employee, 1, true);
    expect(await openAccount(emp.page)).toBe('/account');

    const rep = await newPage();
    await logIn(rep.page, representative);
    await rep.page.goto('/company');
    expect(pathOf(rep.page)).toBe('/company');
    await Promise.all([rep.page.waitForURL(`**/company/employees/${employee.id}`), rep.page.getByRole('link', { name: 'Jan Kowalski' }).click()]);
    expect(await rep.page.getByRole('heading', { level: 1 }).innerText()).toBe('Jan Kowalski');

    const devices = rep.page.locator('main table').first().locator('tr').filter({ has: rep.page.getByRole('button', { name: 'Revoke' }) });
    expect(await devices.count()).toBe(1);
    expect(await devices.innerText()).toMatch(/until /);
    const [revoked] = await Promise.all([
      rep.page.waitForResponse((response) => response.request().method() === 'POST' && response.url().endsWith('/revoke')),
      rep.page.waitForNavigation(),
      devices.getByRole('button', { name: 'Revoke' }).click(),
    ]);
    expect(revoked.status()).toBe(303);
    expect(pathOf(rep.page)).toBe(`/company/employees/${employee.id}`);
    expect(await rep.page.getByRole('status').innerText()).toContain('The device was revoked');

    expect(await openAccount(emp.page)).toBe('/login');
    // The device lost its trust too: the password alone no longer signs in.
    await logIn(emp.page, employee);
    expect(pathOf(emp.page)).toBe('/login/verify');
    await sink.codeFor(employee.email, 2);
  });

  it('"Revoke every device" asks first: cancelled it changes nothing, confirmed it signs this browser out', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const { page } = await newPage();
    await logIn(page, user);
    expect(await openAccount(page)).toBe('/account');
    const asked: string[] = [];
    page.once('dialog', (dialog) => (asked.push(dialog.message()), void dialog.dismiss()));
    await page.getByRole('button', { name: 'Revoke every device' }).click();
    await page.waitForTimeout(300);
    expect(asked).toEqual([expect.stringContaining('will need a code at its next sign-in')]);
    expect(await openAccount(page)).toBe('/account');

    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForURL((url) => url.pathname === '/login'), page.getByRole('button', { name: 'Revoke every device' }).click()]);
    expect(await openAccount(page)).toBe('/login');
  });

  it('fits a 360-pixel-wide phone screen: wide tables scroll inside the card, the page does not', async () => {
    const { companyId, representative } = await companyWithRepresentative('Narrow Screens');
    // A name near the 100-character limit, listed in the console's employee filter.
    await doorman.addUser({ companyId, name: `Aleksandra Wielkopolska-Zachodniopomorska ${'x'.repeat(40)} Konstantynopolitańczykiewicz`.slice(0, 100), twoFactor: false });
    const { page } = await newPage();
    await page.setViewportSize({ width: 360, height: 740 });
    await logIn(page, representative);
    for (const path of ['/account', '/company']) {
      await page.goto(path);
      expect(pathOf(page)).toBe(path);
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('main *')]
          .filter((el) => !el.closest('.scroll') && el.getBoundingClientRect().right > 361)
          .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${Math.round(el.getBoundingClientRect().right)}`),
      );
      expect(wide, path).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(360);
    }
  });
});
