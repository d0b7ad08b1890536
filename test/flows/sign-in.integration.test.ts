// The whole new-device verification flow through the JSON API, on real SQLite and a real SMTP server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCodeMail, SmtpSink } from '../helpers/smtpSink.js';
import { ManualClock } from '../helpers/clock.js';
import { signInWithCode, startDoorman, type Running } from '../helpers/harness.js';
import { createPasswordHasher } from '../../src/flows/passwordHasher.js';
import { setCompanyPolicy, updateUser } from '../../src/flows/provisioning.js';

let sink: SmtpSink;
let doorman: Running;

beforeAll(async () => {
  sink = await new SmtpSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url });
});
afterAll(async () => {
  await doorman?.close();
  await sink?.stop();
});

const codeMails = (address: string) => sink.to(address).filter(isCodeMail);
const settle = (ms = 600) => new Promise((resolve) => setTimeout(resolve, ms));

describe('new-device verification by e-mail', () => {
  it('password, then the e-mailed code, signs in and the session is visible', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.status).toBe(200);
    expect(login.body.status).toBe('verification_required');
    const { challenge } = login.body;
    expect(challenge.codeLength).toBe(6);
    expect(challenge.attemptsLeft).toBe(5);
    const email = challenge.channels.find((c: any) => c.channel === 'email');
    expect(email).toMatchObject({ available: true, destination: expect.stringMatching(/^u\*\*\*@acme\.example$/) });
    expect(email.lastSentAt).toBeTruthy();
    expect(Date.parse(email.resendAvailableAt) - Date.parse(email.lastSentAt)).toBe(60_000);
    expect(Date.parse(challenge.expiresAt) - Date.parse(email.lastSentAt)).toBe(15 * 60_000);
    const sms = challenge.channels.find((c: any) => c.channel === 'sms');
    expect(sms).toMatchObject({ available: false, reason: expect.any(String) });
    expect(sms.destination).toBeUndefined();

    // Before verification the pending state grants nothing.
    expect((await browser.get('/api/v1/session')).status).toBe(401);

    const code = await sink.codeFor(user.email);
    expect(code).toMatch(/^\d{6}$/);
    const verify = await browser.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ status: 'authenticated', user: { email: user.email }, device: { trusted: true } });
    expect(Date.parse(verify.body.device.trustedUntil) - Date.now()).toBeGreaterThan(29 * 24 * 3600_000);

    const session = await browser.get('/api/v1/session');
    expect(session.status).toBe(200);
    expect(session.body.user.email).toBe(user.email);
    expect(session.body.device.id).toBe(verify.body.device.id);

    expect((await browser.post('/api/v1/logout')).status).toBe(204);
    expect((await browser.get('/api/v1/session')).status).toBe(401);
  });

  it('GET /login/challenge never sends and never changes the code', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const code = await sink.codeFor(user.email);
    for (let i = 0; i < 5; i++) {
      const reply = await browser.get('/api/v1/login/challenge');
      expect(reply.status).toBe(200);
      expect(reply.body.challenge.attemptsLeft).toBe(5);
    }
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
    const verify = await browser.post('/api/v1/login/challenge/verify', { code });
    expect(verify.status).toBe(200);
  });

  it('signing in again from the same browser reuses the challenge: same code, nothing sent', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const code = await sink.codeFor(user.email);
    const pendingCookie = () => [...browser.cookies].find(([name]) => name.endsWith('doorman_pending'))?.[1].value;
    const first = pendingCookie();
    expect(first).toBeTruthy();
    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('verification_required');
    // The browser keeps its pending cookie: a reply that arrives late cannot leave it with a stale one.
    expect(pendingCookie()).toBe(first);
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).status).toBe(200);
  });

  it('logging out while a code is pending forgets the sign-in in this browser; signing in again resumes it, same code, nothing sent', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const code = await sink.codeFor(user.email);
    expect((await browser.get('/api/v1/login/challenge')).status).toBe(200);
    expect((await browser.post('/api/v1/logout')).status).toBe(204);
    expect([...browser.cookies].some(([name]) => name.endsWith('doorman_pending'))).toBe(false);
    expect((await browser.get('/api/v1/login/challenge')).body.error).toBe('no_challenge');
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).body.error).toBe('no_challenge');
    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('verification_required');
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).status).toBe(200);
  });

  it('parallel sign-ins from one known browser open one challenge: one e-mail, one code', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), false)).status).toBe(200);
    browser.restart();
    const replies = await Promise.all(Array.from({ length: 5 }, () => browser.post('/api/v1/login', { email: user.email, password: user.password })));
    expect(replies.every((r) => r.body.status === 'verification_required')).toBe(true);
    await sink.waitFor(() => codeMails(user.email).length >= 2);
    await settle();
    expect(codeMails(user.email)).toHaveLength(2);
    const challenges = await doorman.doorman.database.db.selectFrom('challenges').select('id').where('userId', '=', user.id).where('consumedAt', 'is', null).execute();
    expect(challenges).toHaveLength(1);
    // Every reply names the same pending cookie, so whichever the browser keeps last still works.
    const pending = replies.map((r) => r.setCookies.find((line) => line.split('=')[0]!.endsWith('doorman_pending'))?.split(';')[0]);
    expect(pending[0]).toBeTruthy();
    expect(new Set(pending).size).toBe(1);
    const verify = await browser.post('/api/v1/login/challenge/verify', { code: await sink.codeFor(user.email), trustDevice: false });
    expect(verify.status).toBe(200);
  });

  it('a new browser posting the login form twice at once (a double click) gets one challenge and one code that works', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    const page = await browser.get('/login', { accept: 'text/html' });
    expect([...browser.cookies.keys()].some((name) => name.endsWith('doorman_device'))).toBe(true);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const form = new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password, next: '/account' }).toString();
    const post = () => browser.request('POST', '/login', form, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
    const replies = await Promise.all([post(), post()]);
    expect(replies.map((r) => r.status)).toEqual([303, 303]);
    await sink.waitFor(() => codeMails(user.email).length >= 1);
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
    const devices = await doorman.doorman.database.db.selectFrom('challenges').select('deviceId').where('userId', '=', user.id).execute();
    expect(devices).toHaveLength(1);
    const verify = await browser.post('/api/v1/login/challenge/verify', { code: await sink.codeFor(user.email), trustDevice: false });
    expect(verify.status).toBe(200);
  });

  it('10 parallel re-sends deliver exactly one more e-mail, with the same code', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const first = await sink.codeFor(user.email);
    // Re-send within 60 s is refused with retryAfter.
    const early = await browser.post('/api/v1/login/challenge/send', { channel: 'email' });
    expect(early.status).toBe(429);
    expect(early.body.error).toBe('resend_too_soon');
    expect(early.body.retryAfter).toBeGreaterThan(0);
    expect(early.body.retryAfter).toBeLessThanOrEqual(60);
    expect(early.headers.get('retry-after')).toBe(String(early.body.retryAfter));

    // Move the clock past the cooldown by rewinding the last send in the database.
    await doorman.doorman.database.db.updateTable('challenges').set({ emailSentAt: Date.now() - 61_000 }).where('userId', '=', user.id).execute();
    const replies = await Promise.all(Array.from({ length: 10 }, () => browser.post('/api/v1/login/challenge/send', { channel: 'email' })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 429)).toHaveLength(9);
    await sink.waitFor(() => codeMails(user.email).length >= 2);
    await settle();
    expect(codeMails(user.email)).toHaveLength(2);
    expect(await sink.codeFor(user.email, 2)).toBe(first);
  });

  it('a burst of re-sends near the hourly budget uses one send of it: the others hear about the cooldown, not the budget', async () => {
    const clock = new ManualClock();
    const local = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR: '3' }, { clock });
    try {
      const user = await local.addUser();
      const browser = local.browser();
      expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
      clock.advance(61_000);
      const burst = await Promise.all(Array.from({ length: 10 }, () => browser.post('/api/v1/login/challenge/send', { channel: 'email' })));
      expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
      expect(burst.filter((r) => r.status !== 200).map((r) => r.body.error)).toEqual(Array(9).fill('resend_too_soon'));
      clock.advance(61_000);
      expect((await browser.post('/api/v1/login/challenge/send', { channel: 'email' })).status).toBe(200);
      clock.advance(61_000);
      const over = await browser.post('/api/v1/login/challenge/send', { channel: 'email' });
      expect(over.body).toMatchObject({ error: 'send_limit_reached', reason: 'email_per_account_hour' });
      await sink.waitFor(() => codeMails(user.email).length >= 3);
      await settle();
      expect(codeMails(user.email)).toHaveLength(3);
      // A refused send leaves the cooldown as it was: the next one is refused for the budget, not the cooldown.
      expect((await browser.post('/api/v1/login/challenge/send', { channel: 'email' })).body.error).toBe('send_limit_reached');
    } finally {
      await local.close();
    }
  });

  it('sending on SMS without a phone number answers 409 channel_unavailable', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const reply = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(reply.status).toBe(409);
    expect(reply.body.error).toBe('channel_unavailable');
  });

  it('without a challenge, challenge endpoints answer 404 no_challenge', async () => {
    const browser = doorman.browser();
    expect((await browser.get('/api/v1/login/challenge')).body.error).toBe('no_challenge');
    const verify = await browser.post('/api/v1/login/challenge/verify', { code: '123456' });
    expect(verify.status).toBe(404);
    expect(verify.body.error).toBe('no_challenge');
  });

  it('an account without verification signs in with the password alone', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const browser = doorman.browser();
    const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ status: 'authenticated', user: { email: user.email } });
    expect((await browser.get('/api/v1/session')).status).toBe(200);
  });
});

describe('trusted and untrusted browsers', () => {
  it('a trusted browser signs in again without a code, even after a browser restart', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), true)).status).toBe(200);
    await browser.post('/api/v1/logout');
    browser.restart();
    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('authenticated');
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
  });

  it('a trusted browser signing in again while signed in gets a new session; its old one ends', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), true)).status).toBe(200);
    const oldSession = [...browser.cookies].find(([name]) => name.endsWith('doorman_session'))!;
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
    const newSession = [...browser.cookies].find(([name]) => name.endsWith('doorman_session'))!;
    expect(newSession[1]).not.toBe(oldSession[1]);
    expect((await browser.get('/api/v1/session')).status).toBe(200);
    const stale = doorman.browser();
    stale.cookies.set(oldSession[0], oldSession[1]);
    expect((await stale.get('/api/v1/session')).status).toBe(401);
    // Signing in to another account on this browser leaves this account's session alone: it is not that account's to end.
    const other = await doorman.addUser({ twoFactor: false });
    const current = doorman.browser();
    current.cookies.set(newSession[0], newSession[1]);
    expect((await current.post('/api/v1/login', { email: other.email, password: other.password })).body.status).toBe('authenticated');
    const kept = doorman.browser();
    kept.cookies.set(newSession[0], newSession[1]);
    expect((await kept.get('/api/v1/session')).body.user.email).toBe(user.email);
  });

  it('an untrusted browser needs a code again in a new browser session', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), false)).status).toBe(200);
    browser.restart();
    expect((await browser.get('/api/v1/session')).status).toBe(401);
    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('verification_required');
    await sink.codeFor(user.email, 2);
  });

  it('an untrusted browser still in its login session signs in again without a code; its old session ends; after sign-out it needs a code', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    expect((await signInWithCode(browser, user, () => sink.codeFor(user.email), false)).status).toBe(200);
    const oldSession = [...browser.cookies].find(([name]) => name.endsWith('doorman_session'))!;
    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('authenticated');
    expect((await browser.get('/api/v1/session')).status).toBe(200);
    const stale = doorman.browser();
    stale.cookies.set(oldSession[0], oldSession[1]);
    expect((await stale.get('/api/v1/session')).status).toBe(401);
    // Another account's session on this browser authorizes nothing for this one.
    const other = await doorman.addUser();
    expect((await browser.post('/api/v1/login', { email: other.email, password: other.password })).body.status).toBe('verification_required');
    await browser.post('/api/v1/logout');
    await settle();
    expect(codeMails(user.email)).toHaveLength(1);
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
  });

  it('a fresh cookie jar always needs a code, even when another browser is trusted', async () => {
    const user = await doorman.addUser();
    expect((await signInWithCode(doorman.browser(), user, () => sink.codeFor(user.email), true)).status).toBe(200);
    const fresh = doorman.browser();
    const login = await fresh.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.body.status).toBe('verification_required');
  });

  it('a replayed old device cookie counts as an unknown device', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    const oldDevice = [...browser.cookies].find(([name]) => name.endsWith('doorman_device'));
    expect((await browser.post('/api/v1/login/challenge/verify', { code: await sink.codeFor(user.email), trustDevice: true })).status).toBe(200);
    const copy = doorman.browser();
    copy.cookies.set(oldDevice![0], oldDevice![1]);
    const login = await copy.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.body.status).toBe('verification_required');
  });
});

describe('credentials', () => {
  it('unknown e-mail and wrong password answer identically', async () => {
    const user = await doorman.addUser();
    const wrong = await doorman.browser().post('/api/v1/login', { email: user.email, password: 'not-the-password' });
    const unknown = await doorman.browser().post('/api/v1/login', { email: 'nobody@acme.example', password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toEqual({ error: 'invalid_credentials', message: 'Invalid email or password.' });
    expect(wrong.setCookies).toEqual(unknown.setCookies);
  });

  it('e-mail is case-insensitive', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const login = await doorman.browser().post('/api/v1/login', { email: user.email.toUpperCase(), password: user.password });
    expect(login.body.status).toBe('authenticated');
  });
});

/** A hasher that makes the change it is given once, after a password was found right and before the sign-in writes anything. */
async function hasherWithChange() {
  const real = await createPasswordHasher();
  let change: (() => Promise<unknown>) | undefined;
  const hasher = {
    ...real,
    async verify(hash: string | undefined, password: string) {
      const ok = await real.verify(hash, password);
      const now = change;
      change = undefined;
      await now?.();
      return ok;
    },
  };
  return { hasher, meanwhile: (next: () => Promise<unknown>) => void (change = next) };
}

describe('a password changed while a sign-in checks the old one', () => {
  it.each([
    ['opens no challenge', true],
    ['does not sign in without a code', false],
  ])('%s, and the old password does not come back through a rehash', async (_name, twoFactor) => {
    const { hasher, meanwhile } = await hasherWithChange();
    const local = await startDoorman({ DOORMAN_SMTP_URL: sink.url }, { hasher });
    try {
      const user = await local.addUser({ twoFactor });
      meanwhile(() => updateUser(local.doorman.ctx, user.id, { password: 'changed-meanwhile-2026' }));
      const browser = local.browser();
      const reply = await browser.post('/api/v1/login', { email: user.email, password: user.password });
      expect(reply.status).toBe(401);
      expect(reply.body.error).toBe('invalid_credentials');
      expect((await browser.get('/api/v1/session')).status).toBe(401);
      const open = await local.doorman.database.db.selectFrom('challenges').select('id').where('userId', '=', user.id).execute();
      expect(open).toHaveLength(0);
      // The new password works; the old one stays refused.
      expect((await local.browser().post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(401);
      expect((await local.browser().post('/api/v1/login', { email: user.email, password: 'changed-meanwhile-2026' })).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});

describe('account authorization switched on while a sign-in checks the password', () => {
  it.each(['for the account', 'for the company'])('switched on %s: the sign-in needs a code, no session begins with the password alone', async (scope) => {
    const { hasher, meanwhile } = await hasherWithChange();
    const local = await startDoorman({ DOORMAN_SMTP_URL: sink.url }, { hasher });
    try {
      const user = await local.addUser({ twoFactor: false });
      meanwhile(() =>
        scope === 'for the account' ? updateUser(local.doorman.ctx, user.id, { twoFactor: true }) : setCompanyPolicy(local.doorman.ctx, user.companyId, { requireAuthorization: true }),
      );
      const browser = local.browser();
      const reply = await browser.post('/api/v1/login', { email: user.email, password: user.password });
      expect(reply.status).toBe(200);
      expect(reply.body.status).toBe('verification_required');
      expect((await browser.get('/api/v1/session')).status).toBe(401);
      const sessions = await local.doorman.database.db.selectFrom('sessions').select('id').where('userId', '=', user.id).execute();
      expect(sessions).toHaveLength(0);
    } finally {
      await local.close();
    }
  });
});
