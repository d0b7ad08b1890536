// Defends DESIGN §1 Channels (SMS on the verify page: masked number, origin-bound last line `@<host> #<code>`; phone change needs the password and a code sent to the new number and is reported by e-mail) and "This wasn't me" (single use; ends the device's sessions, removes its trust, forces a new password at the next sign-in), through the real pages in Chromium.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink, type SinkMessage } from '../helpers/smtpSink.js';
import { SmppSink, type ReceivedSms } from '../helpers/smppServer.js';

let doorman: Running;
let sink: SmtpSink;
let smsc: SmppSink;
let browser: Browser;
const openContexts: BrowserContext[] = [];

beforeAll(async () => {
  sink = await new SmtpSink().start();
  smsc = await new SmppSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_SMS_URL: smsc.url() });
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(openContexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
  await doorman?.close();
  await smsc?.stop();
  await sink?.stop();
});

// The browser uses the public URL, as users do: form posts from any other origin are refused.
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: doorman.doorman.config.publicUrl.origin });
  context.setDefaultTimeout(15_000);
  openContexts.push(context);
  return { context, page: await context.newPage() };
}

const pathOf = (page: Page) => new URL(page.url()).pathname;
const mainText = (page: Page) => page.locator('main').innerText();

/** Password step on /login; returns once the browser has left the login page. */
async function logIn(page: Page, email: string, password: string): Promise<void> {
  const shown = await page.goto('/login');
  expect(shown?.status(), await shown?.text()).toBe(200);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.getByRole('button', { name: 'Log in' }).click()]);
}

/** The newest SMS to `phone` once there are at least `count`. */
async function smsTo(phone: string, count = 1): Promise<ReceivedSms> {
  await smsc.waitFor(() => smsc.to(phone).length >= count);
  return smsc.to(phone).at(-1)!;
}

/** The newest e-mail to `address` with exactly `subject`, waiting for it. */
async function mailWithSubject(address: string, subject: string): Promise<SinkMessage> {
  await sink.waitFor(() => sink.to(address).some((m) => m.subject === subject));
  return sink.to(address).filter((m) => m.subject === subject).at(-1)!;
}

let phoneCounter = 0;
/** A fresh Polish mobile number per test, so per-number SMS budgets never interfere: `+48601777` + 3 digits. */
const nextPhone = () => `+48601777${String(100 + ((Date.now() + phoneCounter++) % 800)).padStart(3, '0')}`;

describe('SMS and "This wasn\'t me" in a real browser', () => {
  it('choosing SMS on the verify page sends the code to the masked phone with the origin-bound last line, and that code signs in', async () => {
    const phone = nextPhone();
    const user = await doorman.addUser({ phone });
    const { page } = await newPage();

    await logIn(page, user.email, user.password);
    expect(pathOf(page)).toBe('/login/verify');
    expect(await page.getByRole('button', { name: 'Send code by SMS' }).isEnabled()).toBe(true);

    await Promise.all([page.waitForURL((url) => url.searchParams.get('sent') === 'sms'), page.getByRole('button', { name: 'Send code by SMS' }).click()]);
    expect(pathOf(page)).toBe('/login/verify');
    const masked = `+48 *** *** ${phone.slice(-3)}`;
    const text = await mainText(page);
    expect(text).toContain('A code was sent by SMS.');
    expect(text).toContain(`Code sent by SMS to ${masked}`);
    expect(text).not.toContain(phone.slice(3));

    const sms = await smsTo(phone);
    const code = smsc.codeFrom(sms);
    expect(sms.text.split('\n').at(-1)).toBe(`@127.0.0.1 #${code}`);

    await page.getByLabel('Verification code').fill(code);
    await Promise.all([page.waitForURL('**/account'), page.getByRole('button', { name: 'Verify' }).click()]);
    expect(pathOf(page)).toBe('/account');
    expect(await mainText(page)).toContain(user.email);
  });

  it('"This wasn\'t me" signs the reported browser out, works only once, and the next sign-in needs the code and a new password', async () => {
    const user = await doorman.addUser();
    const intruder = await newPage();

    // The intruder signs in with the code and trusts the browser.
    await logIn(intruder.page, user.email, user.password);
    expect(pathOf(intruder.page)).toBe('/login/verify');
    await intruder.page.getByLabel('Verification code').fill(await sink.codeFor(user.email, 1));
    await intruder.page.getByRole('checkbox', { name: 'Trust this device' }).check();
    await Promise.all([intruder.page.waitForURL('**/account'), intruder.page.getByRole('button', { name: 'Verify' }).click()]);
    expect(await mainText(intruder.page)).toContain(user.email);

    // The owner opens the link from the new-device e-mail in another browser.
    const notice = await mailWithSubject(user.email, 'New sign-in to your account');
    const link = /https?:\/\/\S+\/report\/\S+/.exec(notice.text)?.[0];
    expect(link, notice.text).toBeTruthy();
    const owner = await newPage();
    const shown = await owner.page.goto(link!);
    expect(shown?.status()).toBe(200);
    expect(await mainText(owner.page)).toContain('127.0.0.1');

    // Opening the page changed nothing yet: the intruder is still signed in.
    await intruder.page.reload();
    expect(pathOf(intruder.page)).toBe('/account');

    const [done] = await Promise.all([owner.page.waitForNavigation(), owner.page.getByRole('button', { name: 'This wasn’t me' }).click()]);
    expect(done?.status()).toBe(200);
    expect(await mainText(owner.page)).toContain('the browser is locked out');

    // The reported browser is signed out.
    await intruder.page.reload();
    expect(pathOf(intruder.page)).toBe('/login');

    // The link is single use.
    const again = await owner.page.goto(link!);
    const againText = await mainText(owner.page);
    expect(again?.status() === 410 || againText.includes('cannot be used'), `status ${again?.status()}: ${againText}`).toBe(true);
    expect(await owner.page.getByRole('button', { name: 'This wasn’t me' }).count()).toBe(0);

    // Its trust is gone too: the old password leads to the code step, which now also asks for a new password.
    await logIn(intruder.page, user.email, user.password);
    expect(pathOf(intruder.page)).toBe('/login/verify');
    expect(await intruder.page.getByLabel('New password').isVisible()).toBe(true);
    const newPassword = `a-brand-new-password-${Date.now()}`;
    await intruder.page.getByLabel('Verification code').fill(await sink.codeFor(user.email, 2));
    await intruder.page.getByLabel('New password').fill(newPassword);
    await Promise.all([intruder.page.waitForURL('**/account'), intruder.page.getByRole('button', { name: 'Verify' }).click()]);
    expect(await mainText(intruder.page)).toContain(user.email);

    // The old password no longer works; the new one does, and is not asked to change again.
    const fresh = await newPage();
    await fresh.page.goto('/login');
    await fresh.page.getByLabel('Email').fill(user.email);
    await fresh.page.getByLabel('Password').fill(user.password);
    await Promise.all([fresh.page.waitForNavigation(), fresh.page.getByRole('button', { name: 'Log in' }).click()]);
    expect(pathOf(fresh.page)).toBe('/login');
    expect(await mainText(fresh.page)).toContain('Invalid email or password');

    await logIn(fresh.page, user.email, newPassword);
    expect(pathOf(fresh.page)).toBe('/login/verify');
    expect(await fresh.page.getByLabel('Verification code').isVisible()).toBe(true);
    expect(await fresh.page.getByLabel('New password').count()).toBe(0);
    await sink.codeFor(user.email, 3);
  });

  it('changing the phone on the account page needs the password and the code sent to the new number, then shows the masked number and e-mails the user', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const { page } = await newPage();
    await logIn(page, user.email, user.password);
    expect(pathOf(page)).toBe('/account');

    const digits = String(900 + ((Date.now() + phoneCounter++) % 100));
    const phone = `+486017779${digits.slice(1)}`;
    const section = page.locator('section.phone');
    expect(await section.getByRole('heading', { name: 'Phone number for sign-in codes' }).isVisible()).toBe(true);
    await page.getByLabel('Mobile phone number').fill(`+48 601 777 9${digits.slice(1)}`);
    await page.getByLabel('Your password').fill(user.password);
    await Promise.all([page.waitForURL((url) => url.pathname === '/account' && url.searchParams.has('saved')), page.getByRole('button', { name: 'Send a code to this number' }).click()]);
    expect(pathOf(page)).toBe('/account');

    const masked = `+48 *** *** ${phone.slice(-3)}`;
    expect(await section.innerText()).toContain(masked);
    const sms = await smsTo(phone);
    const code = smsc.codeFrom(sms);
    expect(sms.text.split('\n').at(-1)).toBe(`@127.0.0.1 #${code}`);

    await page.getByLabel('Code from the SMS').fill(code);
    await Promise.all([page.waitForURL((url) => url.pathname === '/account' && url.searchParams.get('saved') === 'phone'), page.getByRole('button', { name: 'Confirm the number' }).click()]);
    expect(await page.getByRole('status').innerText()).toContain('The phone number was saved.');
    const text = await mainText(page);
    expect(text).toContain(masked);
    expect(text).not.toContain(phone.slice(3));
    expect(await page.getByLabel('Code from the SMS').count()).toBe(0);

    const changed = await mailWithSubject(user.email, 'The phone number on your account changed');
    expect(changed.text).toContain(masked);
  });
});
