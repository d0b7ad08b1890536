// Trusted devices, sessions, the authorization switch, password change and company policy, through the JSON API with real SMTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany } from '../../src/flows/provisioning.js';
import { ManualClock } from '../helpers/clock.js';
import type { Browser } from '../helpers/httpClient.js';
import { ADMIN_TOKEN, signInWithCode, startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
let doorman: Running;
const clock = new ManualClock();
const DAY = 24 * 3600_000;

beforeAll(async () => {
  sink = await new SmtpSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url }, { clock });
});
afterAll(async () => {
  await doorman?.close();
  await sink?.stop();
});

const codeCount = (email: string) => sink.to(email).filter((m) => /verification code/i.test(m.subject)).length;

async function trustedSignIn(browser: Browser, user: { email: string; password: string }) {
  const n = codeCount(user.email);
  const reply = await signInWithCode(browser, user, () => sink.codeFor(user.email, n + 1), true);
  expect(reply.status).toBe(200);
  return reply;
}

async function companyWithRep() {
  const companyId = await createCompany(doorman.doorman.ctx, { name: `Co ${Math.random()}` });
  const rep = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false });
  const repBrowser = doorman.browser();
  expect((await repBrowser.post('/api/v1/login', { email: rep.email, password: rep.password })).body.status).toBe('authenticated');
  return { companyId, rep, repBrowser };
}

describe('trusted devices', () => {
  it('the device list shows trust, this device, browser and IP', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    const verify = await trustedSignIn(browser, user);
    const { body } = await browser.get('/api/v1/me/devices');
    expect(body.devices).toHaveLength(1);
    expect(body.devices[0]).toMatchObject({ current: true, trusted: true, lastIp: '127.0.0.1', browser: 'Chrome 126 on Linux' });
    // The verify answer and the session check describe the same device, as this browser's own.
    expect(verify.body.device).toMatchObject({ id: body.devices[0].id, current: true });
    const session = (await browser.get('/api/v1/session')).body;
    expect(session.device).toMatchObject({ id: body.devices[0].id, current: true });
    expect(session.session.current).toBe(true);
  });

  it('revoking a trusted device by the user ends its session at once and its next sign-in needs a code', async () => {
    const user = await doorman.addUser();
    const laptop = doorman.browser();
    const verify = await trustedSignIn(laptop, user);
    const phone = doorman.browser();
    await trustedSignIn(phone, user);
    expect((await phone.request('DELETE', `/api/v1/me/devices/${verify.body.device.id}`)).status).toBe(204);
    expect((await laptop.get('/api/v1/session')).status).toBe(401);
    const again = await laptop.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('verification_required');
    expect((await phone.get('/api/v1/session')).status).toBe(200);
    // Revoking its own device signs this browser out, and its session cookie is cleared.
    const own = (await phone.get('/api/v1/session')).body.device.id;
    const revoked = await phone.request('DELETE', `/api/v1/me/devices/${own}`);
    expect(revoked.status).toBe(204);
    expect(revoked.headers.get('set-cookie')).toMatch(/doorman_session=;.*Max-Age=0/i);
    expect([...phone.cookies.keys()].some((name) => name.endsWith('doorman_session'))).toBe(false);
  });

  it('revoking by the company representative does the same', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    const user = await doorman.addUser({ companyId });
    const browser = doorman.browser();
    const verify = await trustedSignIn(browser, user);
    const reply = await repBrowser.request('DELETE', `/api/v1/company/employees/${user.id}/devices/${verify.body.device.id}`);
    expect(reply.status).toBe(204);
    expect((await browser.get('/api/v1/session')).status).toBe(401);
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
  });

  it('sessions are listed and one can be revoked', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const a = doorman.browser();
    const b = doorman.browser();
    await a.post('/api/v1/login', { email: user.email, password: user.password });
    await b.post('/api/v1/login', { email: user.email, password: user.password });
    const { body } = await a.get('/api/v1/me/sessions');
    expect(body.sessions).toHaveLength(2);
    const other = body.sessions.find((s: any) => !s.current);
    expect((await a.request('DELETE', `/api/v1/me/sessions/${other.id}`)).status).toBe(204);
    expect((await b.get('/api/v1/session')).status).toBe(401);
    expect((await a.get('/api/v1/session')).status).toBe(200);
  });

  it('recent sign-ins list successes and failures with the IP', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    await doorman.browser().post('/api/v1/login', { email: user.email, password: 'wrong-password' });
    clock.advance(1000);
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const { body } = await browser.get('/api/v1/me/sign-ins');
    expect(body.total).toBe(2);
    expect(body.signIns.map((s: any) => [s.outcome, s.reason, s.ip])).toEqual([
      ['success', null, '127.0.0.1'],
      ['failure', 'invalid_password', '127.0.0.1'],
    ]);
  });
});

describe('password and authorization switch', () => {
  it('changing the password revokes trusted devices and other sessions and e-mails the user', async () => {
    const user = await doorman.addUser();
    const old = doorman.browser();
    await trustedSignIn(old, user);
    const current = doorman.browser();
    await trustedSignIn(current, user);
    const reply = await current.post('/api/v1/me/password', { currentPassword: user.password, newPassword: 'another-long-password' });
    expect(reply.status).toBe(204);
    expect((await old.get('/api/v1/session')).status).toBe(401);
    expect((await current.get('/api/v1/session')).status).toBe(200);
    const again = await old.post('/api/v1/login', { email: user.email, password: 'another-long-password' });
    expect(again.body.status).toBe('verification_required');
    await sink.waitFor(() => sink.to(user.email).some((m) => /password was changed/i.test(m.subject)));
  });

  it.each(['a password change on the account', 'a password reset through the admin API', 'revoking every device'])('a sign-in waiting for its code ends on %s', async (through) => {
    const user = await doorman.addUser();
    const current = doorman.browser();
    await trustedSignIn(current, user);
    const waiting = doorman.browser();
    const sent = codeCount(user.email);
    expect((await waiting.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
    const code = await sink.codeFor(user.email, sent + 1);

    const newPassword = through === 'revoking every device' ? user.password : 'another-long-password';
    const changed =
      through === 'a password change on the account'
        ? await current.post('/api/v1/me/password', { currentPassword: user.password, newPassword })
        : through === 'a password reset through the admin API'
          ? await doorman.browser().request('PATCH', `/api/v1/admin/users/${user.id}`, JSON.stringify({ password: newPassword }), { authorization: `Bearer ${ADMIN_TOKEN}` })
          : await current.request('DELETE', '/api/v1/me/devices');
    expect(changed.status).toBeLessThan(300);

    const refused = await waiting.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
    expect(refused.status).toBe(410);
    expect(refused.body.error).toBe('challenge_expired');
    expect((await waiting.get('/api/v1/session')).status).toBe(401);
    // The new password opens a new challenge there, whose code signs in.
    const again = await trustedSignIn(waiting, { ...user, password: newPassword });
    expect(again.status).toBe(200);
  });

  it('switching authorization on takes effect at once; off needs the password and an e-mailed code', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect((await browser.post('/api/v1/me/authorization', { enabled: true })).body).toEqual({ enabled: true });
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');

    expect((await browser.post('/api/v1/me/authorization', { enabled: false, password: 'wrong' })).status).toBe(403);
    const step1 = await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password });
    expect(step1.body).toEqual({ enabled: true, codeSent: 'email' });
    await sink.waitFor(() => sink.to(user.email).some((m) => /switch off/i.test(m.subject)));
    const mail = sink.to(user.email).find((m) => /switch off/i.test(m.subject))!;
    const code = /^\s*(\d{6})\s*$/m.exec(mail.text)![1]!;
    const step2 = await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password, code });
    expect(step2.body).toEqual({ enabled: false });
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
  });

  it.each(['the operator, for the user', 'the operator, for the company'])(
    'switched on by %s: the session a browser began with the password alone ends, and signing in again needs a code',
    async (by) => {
      const companyId = await createCompany(doorman.doorman.ctx, { name: `Co ${Math.random()}` });
      const user = await doorman.addUser({ companyId, twoFactor: false });
      const browser = doorman.browser();
      expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
      clock.advance(60_000);
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const switched = by.endsWith('user')
        ? await doorman.browser().request('PATCH', `/api/v1/admin/users/${user.id}`, JSON.stringify({ twoFactor: true }), admin)
        : await doorman.browser().request('PATCH', `/api/v1/admin/companies/${companyId}`, JSON.stringify({ requireAuthorization: true }), admin);
      expect(switched.status).toBe(200);
      clock.advance(60_000);
      expect((await browser.get('/api/v1/session')).status).toBe(401);
      const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
      expect(again.body.status).toBe('verification_required');
      // Verified, the browser is authorized for its new login session: signing in there again needs no code.
      expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), false)).status).toBe(200);
      expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
    },
  );

  it('switched on by the user: their other browsers are signed out, the one that switched it on stays', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const here = doorman.browser();
    const elsewhere = doorman.browser();
    for (const browser of [here, elsewhere]) expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
    expect((await here.post('/api/v1/me/authorization', { enabled: true })).body).toEqual({ enabled: true });
    expect((await here.get('/api/v1/session')).status).toBe(200);
    expect((await elsewhere.get('/api/v1/session')).status).toBe(401);
    expect((await elsewhere.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
  });

  it('switched on by the user under a company requirement: sessions begun with a code go on', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: true })).status).toBe(200);
    const user = await doorman.addUser({ companyId, twoFactor: false });
    const laptop = doorman.browser();
    const phone = doorman.browser();
    await trustedSignIn(laptop, user);
    await trustedSignIn(phone, user);
    expect((await phone.post('/api/v1/me/authorization', { enabled: true })).body).toEqual({ enabled: true });
    expect((await laptop.get('/api/v1/session')).status).toBe(200);
    expect((await phone.get('/api/v1/session')).status).toBe(200);
  });

  it('required by the representative: employees signed in with the password alone are signed out; the representative and accounts with authorization of their own are not', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    const plain = await doorman.addUser({ companyId, twoFactor: false });
    const own = await doorman.addUser({ companyId, twoFactor: true });
    const plainBrowser = doorman.browser();
    const ownBrowser = doorman.browser();
    expect((await plainBrowser.post('/api/v1/login', { email: plain.email, password: plain.password })).body.status).toBe('authenticated');
    await trustedSignIn(ownBrowser, own);
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: true })).status).toBe(200);
    expect((await plainBrowser.get('/api/v1/session')).status).toBe(401);
    expect((await ownBrowser.get('/api/v1/session')).status).toBe(200);
    expect((await repBrowser.get('/api/v1/session')).status).toBe(200);
  });

  it('switching off is refused when the company requires authorization', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: true })).status).toBe(200);
    const user = await doorman.addUser({ companyId, twoFactor: false });
    const browser = doorman.browser();
    await trustedSignIn(browser, user);
    const reply = await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password });
    expect(reply.status).toBe(409);
    expect(reply.body.error).toBe('required_by_company');
  });
});

describe('re-entered passwords and confirmation codes (abuse of a stolen session)', () => {
  const offCodes = (email: string) => sink.to(email).filter((m) => /switch off/i.test(m.subject)).map((m) => /^\s*(\d{6})\s*$/m.exec(m.text)![1]!);

  it('asking again for the switch-off code sends the same code; wrong codes count towards the account lock', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    await browser.post('/api/v1/me/authorization', { enabled: true });
    await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password });
    // Asked again at once: nothing is sent until the re-send cooldown has passed.
    const again = await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password });
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ error: 'resend_too_soon', retryAfter: expect.any(Number) });
    await sink.waitFor(() => offCodes(user.email).length === 1);
    const [first] = offCodes(user.email);
    const wrong = first === '000000' ? '111111' : '000000';
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password, code: wrong })).status);
    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    // Out of attempts on this request; a new request cannot be made while the old one is open, so guessing stops here.
    expect((await browser.post('/api/v1/me/authorization', { enabled: false, password: user.password, code: first })).status).toBe(423);
    const failures = await doorman.doorman.database.db.selectFrom('codeFailures').select('id').where('userId', '=', user.id).execute();
    expect(failures).toHaveLength(5);
  });

  it('the switch-off code, asked again after the cooldown, is the same; it counts against the e-mail budget, named in snake_case when spent', async () => {
    const local = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_RESEND_COOLDOWN_SECONDS: '1', DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR: '3' });
    try {
      const user = await local.addUser({ twoFactor: true });
      const browser = local.browser();
      expect((await signInWithCode(browser, user, () => sink.codeFor(user.email))).status).toBe(200);
      const ask = () => browser.post('/api/v1/me/authorization', { enabled: false, password: user.password });
      expect((await ask()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await ask()).status).toBe(200);
      await sink.waitFor(() => offCodes(user.email).length === 2);
      const [first, second] = offCodes(user.email);
      expect(second).toBe(first);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const refused = await ask();
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: 'send_limit_reached', reason: 'email_per_account_hour', retryAfter: expect.any(Number) });
    } finally {
      await local.close();
    }
  });

  it('wrong re-entered passwords are limited per account and audited', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await browser.post('/api/v1/me/password', { currentPassword: `wrong-${i}`, newPassword: 'another-long-password' })).status);
    expect(statuses.every((s) => s === 403)).toBe(true);
    const limited = await browser.post('/api/v1/me/password', { currentPassword: user.password, newPassword: 'another-long-password' });
    expect(limited.status).toBe(429);
    const audited = await doorman.doorman.database.db.selectFrom('auditEvents').select('id').where('userId', '=', user.id).where('event', '=', 'reauth_failed').execute();
    expect(audited).toHaveLength(10);
  });

  it('a representative lifting the company requirement must give the password', async () => {
    const { repBrowser, rep } = await companyWithRep();
    await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: true });
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: false })).status).toBe(403);
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: false, password: 'wrong' })).status).toBe(403);
    const lifted = await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: false, password: rep.password });
    expect(lifted.status).toBe(200);
    expect(lifted.body.policy.requireAuthorization).toBe(false);
  });
});

describe('company policy', () => {
  it('requiring authorization makes an employee with it off get a code at the next sign-in', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    const user = await doorman.addUser({ companyId, twoFactor: false });
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
    const policy = await repBrowser.request('PATCH', '/api/v1/company/policy', { requireAuthorization: true });
    expect(policy.body.policy).toMatchObject({ requireAuthorization: true });
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
  });

  it('the trusted-device lifetime from the policy is honoured, also for devices trusted before', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    const user = await doorman.addUser({ companyId });
    const early = doorman.browser();
    const earlyVerify = await trustedSignIn(early, user);
    expect(Date.parse(earlyVerify.body.device.trustedUntil) - clock.now()).toBe(30 * DAY);
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { trustedDeviceDays: 7 })).body.policy.trustedDeviceDays).toBe(7);
    // The device trusted before shows the shortened end wherever it is listed.
    const earlyEnd = new Date(Date.parse(earlyVerify.body.device.trustedUntil) - 23 * DAY).toISOString();
    expect((await early.get('/api/v1/session')).body.device).toMatchObject({ trusted: true, trustedUntil: earlyEnd });
    expect((await early.get('/api/v1/me/devices')).body.devices[0]).toMatchObject({ trusted: true, trustedUntil: earlyEnd });
    expect((await repBrowser.get(`/api/v1/company/employees/${user.id}`)).body.devices[0]).toMatchObject({ trustedUntil: earlyEnd });
    const late = doorman.browser();
    const verify = await trustedSignIn(late, user);
    expect(Date.parse(verify.body.device.trustedUntil) - clock.now()).toBe(7 * DAY);
    clock.advance(7 * DAY + 1000);
    for (const browser of [early, late]) {
      browser.restart();
      expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
    }
  });

  it('the lifetime must be between 1 and the service default', async () => {
    const { repBrowser } = await companyWithRep();
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { trustedDeviceDays: 0 })).status).toBe(400);
    expect((await repBrowser.request('PATCH', '/api/v1/company/policy', { trustedDeviceDays: 31 })).status).toBe(400);
  });

  it('SMS not allowed by the company: the SMS option is unavailable', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    await repBrowser.request('PATCH', '/api/v1/company/policy', { smsAllowed: false });
    const user = await doorman.addUser({ companyId, phone: '+48601444555' });
    const login = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.body.challenge.channels.find((c: any) => c.channel === 'sms')).toMatchObject({ available: false, reason: 'sms_not_available' });
  });
});

describe('sign-in log and CSV export', () => {
  it('filters by employee and new devices, paginates, and exports safe CSV', async () => {
    const { companyId, repBrowser } = await companyWithRep();
    const evil = await doorman.addUser({ companyId, twoFactor: false, name: '=HYPERLINK("http://evil.example","x")' });
    const plain = await doorman.addUser({ companyId, twoFactor: false, name: 'Anna "Ania" Nowak, Jr.' });
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: evil.email, password: evil.password });
    await browser.post('/api/v1/login', { email: evil.email, password: evil.password });
    await doorman.browser().post('/api/v1/login', { email: plain.email, password: plain.password });

    const all = await repBrowser.get('/api/v1/company/sign-ins?pageSize=2');
    expect(all.body.total).toBe(4);
    expect(all.body.signIns).toHaveLength(2);
    const onlyNew = await repBrowser.get(`/api/v1/company/sign-ins?employee=${evil.id}&newDevicesOnly=true`);
    expect(onlyNew.body.total).toBe(1);
    const employees = await repBrowser.get('/api/v1/company/employees?pageSize=1&page=2');
    expect(employees.body.total).toBe(3);
    expect(employees.body.employees).toHaveLength(1);

    const csv = await repBrowser.get('/api/v1/company/sign-ins.csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('"time_utc","employee_email","employee_name","outcome","reason","new_device","ip","browser"');
    expect(lines).toHaveLength(5);
    expect(csv.text).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(csv.text).toContain('"Anna ""Ania"" Nowak, Jr."');
    expect(lines.slice(1).every((l) => !/(^|,)"[=+\-@]/.test(l))).toBe(true);
  });
});
