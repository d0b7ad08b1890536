// Sign-in notifications on a real SMTP server: who is told about a new device, the digest, "This wasn't me", and inert markup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendDailyDigests } from '../../src/flows/sendDigests.js';
import { createCompany, updateUser } from '../../src/flows/provisioning.js';
import { ManualClock } from '../helpers/clock.js';
import type { Browser } from '../helpers/httpClient.js';
import { signInWithCode, startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink, type SinkMessage } from '../helpers/smtpSink.js';

let sink: SmtpSink;
let doorman: Running;
const clock = new ManualClock();

beforeAll(async () => {
  sink = await new SmtpSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url }, { clock });
});
afterAll(async () => {
  await doorman?.close();
  await sink?.stop();
});

const settle = (ms = 700) => new Promise((resolve) => setTimeout(resolve, ms));
const newDeviceMails = (address: string) => sink.to(address).filter((m) => /new sign-in|new browser/i.test(m.subject));

async function company() {
  const companyId = await createCompany(doorman.doorman.ctx, { name: `Company ${Math.random()}` });
  const rep = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false });
  const rep2 = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false });
  const unverified = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: false, twoFactor: false });
  const employee = await doorman.addUser({ companyId, name: 'Jan Kowalski' });
  return { companyId, rep, rep2, unverified, employee };
}

async function verifiedSignIn(browser: Browser, user: { email: string; password: string }, trust = true) {
  const count = sink.to(user.email).filter((m) => /verification code/i.test(m.subject)).length;
  const reply = await signInWithCode(browser, user, () => sink.codeFor(user.email, count + 1), trust);
  expect(reply.status).toBe(200);
  return reply;
}

describe('new-device notifications', () => {
  it('a new device e-mails the user with the IP, and each verified representative of that company only', async () => {
    const acme = await company();
    const other = await company();
    await verifiedSignIn(doorman.browser(), acme.employee);
    await sink.waitFor(() => newDeviceMails(acme.employee.email).length === 1 && newDeviceMails(acme.rep.email).length === 1 && newDeviceMails(acme.rep2.email).length === 1);
    await settle();
    const toUser = newDeviceMails(acme.employee.email);
    expect(toUser).toHaveLength(1);
    expect(toUser[0]!.text).toContain('127.0.0.1');
    expect(toUser[0]!.text).toMatch(/Chrome 126 on Linux/);
    expect(toUser[0]!.text).toMatch(/\/report\/[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/);
    for (const rep of [acme.rep, acme.rep2]) {
      const mails = newDeviceMails(rep.email);
      expect(mails, rep.email).toHaveLength(1);
      expect(mails[0]!.text).toContain('Jan Kowalski');
      expect(mails[0]!.text).toContain(acme.employee.email);
      expect(mails[0]!.text).toContain('127.0.0.1');
    }
    expect(newDeviceMails(acme.unverified.email)).toHaveLength(0);
    expect(newDeviceMails(other.rep.email)).toHaveLength(0);
    expect(newDeviceMails(other.rep2.email)).toHaveLength(0);
  });

  it('a representative signing in gets one e-mail as a user and none as representative; the other representative is told', async () => {
    const acme = await company();
    await doorman.browser().post('/api/v1/login', { email: acme.rep.email, password: acme.rep.password });
    await sink.waitFor(() => newDeviceMails(acme.rep2.email).length === 1);
    await settle();
    expect(newDeviceMails(acme.rep.email)).toHaveLength(1);
    expect(newDeviceMails(acme.rep.email)[0]!.subject).toBe('New sign-in to your account');
  });

  it('a Polish account is told in Polish, the description of the browser included', async () => {
    const acme = await company();
    const user = await doorman.addUser({ companyId: acme.companyId, locale: 'pl', twoFactor: false });
    await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    await sink.waitFor(() => sink.to(user.email).length === 1);
    const [mail] = sink.to(user.email);
    expect(mail!.text).toContain('Chrome 126 w systemie Linux');
    expect(mail!.text).not.toMatch(/ on Linux/);
  });

  it('the same browser signing in again sends nothing; a private window is notified again', async () => {
    const acme = await company();
    const browser = doorman.browser();
    await verifiedSignIn(browser, acme.employee);
    await sink.waitFor(() => newDeviceMails(acme.employee.email).length === 1);
    await browser.post('/api/v1/logout');
    const again = await browser.post('/api/v1/login', { email: acme.employee.email, password: acme.employee.password });
    expect(again.body.status).toBe('authenticated');
    await settle();
    expect(newDeviceMails(acme.employee.email)).toHaveLength(1);
    expect(newDeviceMails(acme.rep.email)).toHaveLength(1);

    await verifiedSignIn(doorman.browser(), acme.employee);
    await sink.waitFor(() => newDeviceMails(acme.employee.email).length === 2 && newDeviceMails(acme.rep.email).length === 2);
  });

  it('nothing is sent twice: every message has its own Message-ID', async () => {
    await settle();
    const ids = sink.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id && /@/.test(id))).toBe(true);
  });
});

describe('daily digest', () => {
  it('a representative who chose the digest gets one e-mail listing the sign-ins when the job runs', async () => {
    const acme = await company();
    await updateUser(doorman.doorman.ctx, acme.rep.id, { timeZone: 'Europe/Warsaw' });
    const repBrowser = doorman.browser();
    await repBrowser.post('/api/v1/login', { email: acme.rep.email, password: acme.rep.password });
    const chosen = await repBrowser.request('PATCH', '/api/v1/me/settings', { notificationPreference: 'digest' });
    expect(chosen.status).toBe(200);
    const second = await doorman.addUser({ companyId: acme.companyId, name: 'Ola Nowak' });

    await verifiedSignIn(doorman.browser(), acme.employee);
    await verifiedSignIn(doorman.browser(), second);
    await sink.waitFor(() => newDeviceMails(acme.rep2.email).length === 2);
    await settle();
    expect(newDeviceMails(acme.rep.email).filter((m) => /employee/i.test(m.subject))).toHaveLength(0);

    clock.advance(24 * 3600_000);
    expect(await sendDailyDigests(doorman.doorman.ctx)).toBeGreaterThanOrEqual(1);
    await sink.waitFor(() => sink.to(acme.rep.email).some((m) => /digest/i.test(m.subject)));
    // Running the job again sends nothing new.
    await sendDailyDigests(doorman.doorman.ctx);
    await settle();
    const digests = sink.to(acme.rep.email).filter((m) => /digest/i.test(m.subject));
    expect(digests).toHaveLength(1);
    expect(digests[0]!.text).toContain('Jan Kowalski');
    expect(digests[0]!.text).toContain('Ola Nowak');
    expect(digests[0]!.text).toContain('127.0.0.1');
    // Each entry's time in the representative's time zone, and in UTC.
    expect(digests[0]!.text).toMatch(/^- .+ \(Europe\/Warsaw\), \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC {2}Jan Kowalski/m);
  });

  it('a representative who lost the role before the digest runs gets nothing', async () => {
    const acme = await company();
    const repBrowser = doorman.browser();
    await repBrowser.post('/api/v1/login', { email: acme.rep.email, password: acme.rep.password });
    await repBrowser.request('PATCH', '/api/v1/me/settings', { notificationPreference: 'digest' });
    await verifiedSignIn(doorman.browser(), acme.employee);
    await doorman.doorman.ctx.store.updateUser(acme.rep.id, { role: 'employee' }, clock.now());
    await sendDailyDigests(doorman.doorman.ctx);
    await settle();
    expect(sink.to(acme.rep.email).filter((m) => /digest/i.test(m.subject))).toHaveLength(0);
  });

  it('only verified representatives may choose the digest', async () => {
    const acme = await company();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: acme.unverified.email, password: acme.unverified.password });
    expect((await browser.request('PATCH', '/api/v1/me/settings', { notificationPreference: 'digest' })).status).toBe(403);
  });
});

async function reportLink(mail: SinkMessage): Promise<string> {
  const match = /https?:\/\/[^\s]+\/report\/([A-Za-z0-9_.-]+)/.exec(mail.text);
  if (!match) throw new Error('no report link');
  return `/report/${match[1]}`;
}

async function postForm(browser: Browser, path: string) {
  const page = await browser.get(path);
  const form = page.status === 200 ? page : await browser.get('/login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
  return { page, reply: await browser.request('POST', path, `_csrf=${encodeURIComponent(csrf ?? '')}`, { 'content-type': 'application/x-www-form-urlencoded' }) };
}

describe("This wasn't me", () => {
  it('ends the device, removes its trust, forces a new password with the code, tells representatives, and works once', async () => {
    const acme = await company();
    const intruder = doorman.browser('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0');
    await verifiedSignIn(intruder, acme.employee, true);
    await sink.waitFor(() => newDeviceMails(acme.employee.email).length === 1);
    expect((await intruder.get('/api/v1/session')).status).toBe(200);

    const link = await reportLink(newDeviceMails(acme.employee.email)[0]!);
    const owner = doorman.browser();
    const page = await owner.get(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Firefox 128 on Windows');
    // Opening the link changes nothing.
    expect((await intruder.get('/api/v1/session')).status).toBe(200);
    // Another browser is waiting for its code when the report is made.
    const waiting = doorman.browser();
    expect((await waiting.post('/api/v1/login', { email: acme.employee.email, password: acme.employee.password })).body.status).toBe('verification_required');
    const waitingCode = await sink.codeFor(acme.employee.email, 2);

    const { reply } = await postForm(owner, link);
    expect(reply.status).toBe(200);
    expect((await intruder.get('/api/v1/session')).status).toBe(401);
    // Whoever that was has the password: their code no longer signs in.
    const late = await waiting.post('/api/v1/login/challenge/verify', { code: waitingCode, newPassword: 'a-brand-new-password-2' });
    expect(late.status).toBe(410);
    expect((await waiting.get('/api/v1/session')).status).toBe(401);
    await sink.waitFor(() => sink.to(acme.rep.email).some((m) => /reported/i.test(m.subject)));
    expect(sink.to(acme.rep.email).filter((m) => /reported/i.test(m.subject))[0]!.text).toContain('Jan Kowalski');

    // The link works once.
    const second = await postForm(owner, link);
    expect(second.page.status).toBe(410);
    expect(second.reply.status).toBe(410);

    // The formerly trusted browser needs a code, and the code alone is not enough: a new password is required.
    const login = await intruder.post('/api/v1/login', { email: acme.employee.email, password: acme.employee.password });
    expect(login.body.status).toBe('verification_required');
    expect(login.body.challenge.passwordChangeRequired).toBe(true);
    const code = await sink.codeFor(acme.employee.email, 3);
    const without = await intruder.post('/api/v1/login/challenge/verify', { code });
    expect(without.status).toBe(400);
    expect(without.body.error).toBe('password_change_required');
    const reused = await intruder.post('/api/v1/login/challenge/verify', { code, newPassword: acme.employee.password });
    expect(reused.body.error).toBe('password_reused');
    const done = await intruder.post('/api/v1/login/challenge/verify', { code, newPassword: 'a-brand-new-password' });
    expect(done.status).toBe(200);
    await sink.waitFor(() => sink.to(acme.employee.email).some((m) => /password was changed/i.test(m.subject)));
    expect((await doorman.browser().post('/api/v1/login', { email: acme.employee.email, password: acme.employee.password })).status).toBe(401);
  });

  it('a forged or altered link is refused', async () => {
    const browser = doorman.browser();
    expect((await browser.get('/report/not-a-token')).status).toBe(404);
    expect((await browser.get(`/report/${'a'.repeat(22)}.${'b'.repeat(43)}`)).status).toBe(404);
  });

  it('expires after 7 days', async () => {
    const acme = await company();
    await verifiedSignIn(doorman.browser(), acme.employee);
    await sink.waitFor(() => newDeviceMails(acme.employee.email).length === 1);
    const link = await reportLink(newDeviceMails(acme.employee.email)[0]!);
    clock.advance(7 * 24 * 3600_000);
    expect((await doorman.browser().get(link)).status).toBe(410);
  });
});

describe('markup in user-controlled fields', () => {
  it('names and user agents come out inert in HTML e-mails', async () => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: 'Markup Ltd' });
    const rep = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false, name: '<b>Rep</b>' });
    const evil = await doorman.addUser({ companyId, twoFactor: false, name: '<script>alert(1)</script><img src=x onerror=alert(2)>' });
    const browser = doorman.browser('<img src=x onerror=alert(3)> "><script>alert(4)</script>');
    expect((await browser.post('/api/v1/login', { email: evil.email, password: evil.password })).body.status).toBe('authenticated');
    await sink.waitFor(() => newDeviceMails(evil.email).length === 1 && newDeviceMails(rep.email).length === 1);
    for (const mail of [...newDeviceMails(evil.email), ...newDeviceMails(rep.email)]) {
      expect(mail.html).not.toMatch(/<script>|<img src=x|<b>Rep<\/b>/);
      expect(mail.html).toMatch(/&lt;script&gt;|&lt;img/);
    }
  });
});
