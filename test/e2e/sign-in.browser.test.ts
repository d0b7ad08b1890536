// Defends DESIGN §1 new-device verification (steps 1–4, trust checkbox, new browser asks again), the stable code (reloading never sends), and channels (masked destination, SMS disabled without a phone, one-time-code input), through the real pages in Chromium.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink, isCodeMail } from '../helpers/smtpSink.js';

type User = Awaited<ReturnType<Running['addUser']>>;
type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

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

// The browser uses the public URL (http://localhost:<port>), as users do: form posts from any other origin are refused.
async function newPage(storageState?: StorageState): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: doorman.doorman.config.publicUrl.origin, storageState });
  context.setDefaultTimeout(15_000);
  openContexts.push(context);
  return { context, page: await context.newPage() };
}

const codeMails = (email: string) => sink.to(email).filter(isCodeMail).length;
const pathOf = (page: Page) => new URL(page.url()).pathname;
const mainText = (page: Page) => page.locator('main').innerText();
/** Lets the outbox (polled every 100 ms) deliver anything still queued before counting e-mails. */
const settle = (ms = 1_000) => new Promise((resolve) => setTimeout(resolve, ms));

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

describe('sign-in pages in a real browser', () => {
  it('asks a new browser for the e-mailed code once, then a trusted browser signs in with the password alone', async () => {
    const user = await doorman.addUser();
    const { page } = await newPage();

    await logIn(page, user);
    expect(pathOf(page)).toBe('/login/verify');
    await verify(page, user, 1, true);
    expect(await mainText(page)).toContain(user.email);

    await Promise.all([page.waitForURL('**/login'), page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(pathOf(page)).toBe('/login');

    await logIn(page, user);
    expect(pathOf(page)).toBe('/account');
    expect(await mainText(page)).toContain(user.email);
    await settle();
    expect(codeMails(user.email)).toBe(1);
  });

  it('reloading the verification page sends no further code and shows the masked destination', async () => {
    const user = await doorman.addUser();
    const { page } = await newPage();

    await logIn(page, user);
    expect(pathOf(page)).toBe('/login/verify');
    await sink.codeFor(user.email, 1);
    for (let i = 0; i < 3; i += 1) {
      await page.reload();
      expect(pathOf(page)).toBe('/login/verify');
    }
    await settle(1_500);
    expect(codeMails(user.email)).toBe(1);

    const masked = `${user.email.slice(0, 1)}***@acme.example`;
    const text = await mainText(page);
    expect(text).toContain('***@');
    expect(text).toContain(masked);
    expect(text).not.toContain(user.email);
  });

  it('a new browser context is asked for a code even after another context trusted its device', async () => {
    const user = await doorman.addUser();
    const a = await newPage();
    await logIn(a.page, user);
    await verify(a.page, user, 1, true);

    const b = await newPage();
    await logIn(b.page, user);
    expect(pathOf(b.page)).toBe('/login/verify');
    await sink.codeFor(user.email, 2);
    expect(codeMails(user.email)).toBe(2);
    await verify(b.page, user, 2, false);
    expect(await mainText(b.page)).toContain(user.email);
  });

  it('without "Trust this device" a new browser session with the same persistent cookies needs a code again', async () => {
    const user = await doorman.addUser();
    const first = await newPage();
    await logIn(first.page, user);
    await verify(first.page, user, 1, false);
    expect(await mainText(first.page)).toContain(user.email);

    // Quitting the browser: session cookies are gone, persistent ones (the device cookie) stay.
    const state = await first.context.storageState();
    await first.context.close();
    const persistent = state.cookies.filter((cookie) => cookie.expires !== -1);
    expect(persistent.length).toBeGreaterThan(0);
    expect(persistent.length).toBeLessThan(state.cookies.length);
    const second = await newPage({ ...state, cookies: persistent });

    await second.page.goto('/account');
    expect(pathOf(second.page)).toBe('/login');
    await logIn(second.page, user);
    expect(pathOf(second.page)).toBe('/login/verify');
    await sink.codeFor(user.email, 2);
    await verify(second.page, user, 2, false);
  });

  it('a user without a phone sees "Send code by SMS" disabled and a one-time-code numeric input', async () => {
    const user = await doorman.addUser();
    const { page } = await newPage();
    await logIn(page, user);
    expect(pathOf(page)).toBe('/login/verify');

    expect(await page.getByRole('button', { name: 'Send code by SMS' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Send code by e-mail' }).isVisible()).toBe(true);
    const input = page.getByLabel('Verification code');
    expect(await input.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await input.getAttribute('inputmode')).toBe('numeric');
  });

  it('a wrong code shows an error on the page and does not sign in', async () => {
    const user = await doorman.addUser();
    const { page } = await newPage();
    await logIn(page, user);
    const code = await sink.codeFor(user.email, 1);
    const wrong = code.replace(/^./, (d) => String((Number(d) + 1) % 10));

    await page.getByLabel('Verification code').fill(wrong);
    await page.getByLabel('Trust this device').check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify' }).click()]);
    expect(await page.getByRole('alert').innerText()).toBe('The code is not correct. 4 attempts left.');
    expect(pathOf(page)).toBe('/login/verify');
    expect(await page.getByLabel('Trust this device').isChecked()).toBe(true);
    // Reloading shows the same page: the wrong code is not posted again.
    await page.reload();
    expect(await page.getByRole('alert').innerText()).toBe('The code is not correct. 4 attempts left.');
    expect(await page.locator('p.hint', { hasText: 'attempts left' }).innerText()).toContain('4 attempts left.');

    // Not signed in: the account page sends the browser back to its code page.
    await page.goto('/account');
    expect(pathOf(page)).toBe('/login/verify');
  });

  it('a double click on "Verify" posts the code once: the browser ends up signed in', async () => {
    const user = await doorman.addUser();
    const { page } = await newPage();
    await logIn(page, user);
    await page.getByLabel('Verification code').fill(await sink.codeFor(user.email, 1));
    let posts = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/login/verify') posts += 1;
    });
    // Two clicks 20 ms apart, as a hurried user makes them: the second lands while the first post is on its way.
    const box = (await page.getByRole('button', { name: 'Verify' }).boundingBox())!;
    const arrived = page.waitForURL('**/account');
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2).catch(() => {});
    await arrived;
    expect(posts).toBe(1);
    expect(await mainText(page)).toContain(user.email);
  });

  it('the language links keep the page the visitor was going to', async () => {
    const { page } = await newPage();
    await page.goto('/company?view=employees');
    expect(pathOf(page)).toBe('/login');
    await Promise.all([page.waitForURL(/lang=pl/), page.getByRole('link', { name: 'Polski' }).click()]);
    const url = new URL(page.url());
    expect(url.searchParams.get('next')).toBe('/company?view=employees');
    expect(await page.getByRole('button', { name: 'Zaloguj się' }).count()).toBe(1);
  });
});
