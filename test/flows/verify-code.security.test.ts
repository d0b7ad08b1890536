// Defends the code rules: attempt cap under concurrency, single use, binding to (account, browser), expiry, and the per-account lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/clock.js';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

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

/** A code that is surely wrong: the right one with its last digit changed. */
const wrongFor = (code: string) => code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);

async function openChallenge() {
  const user = await doorman.addUser();
  const browser = doorman.browser();
  const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
  expect(login.body.status).toBe('verification_required');
  const code = await sink.codeFor(user.email);
  return { user, browser, code };
}

describe('attempts per challenge', () => {
  it('20 parallel wrong codes count at most 5 attempts, and the right code is refused afterwards', async () => {
    const { browser, code } = await openChallenge();
    const replies = await Promise.all(Array.from({ length: 20 }, () => browser.post('/api/v1/login/challenge/verify', { code: wrongFor(code) })));
    const invalid = replies.filter((r) => r.status === 400);
    expect(invalid).toHaveLength(5);
    expect(invalid.every((r) => r.body.error === 'invalid_code')).toBe(true);
    expect(invalid.map((r) => r.body.attemptsLeft).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(replies.filter((r) => r.status === 423).every((r) => r.body.error === 'too_many_attempts')).toBe(true);
    expect(replies.filter((r) => r.status === 423)).toHaveLength(15);

    const right = await browser.post('/api/v1/login/challenge/verify', { code });
    expect(right.status).toBe(423);
    expect(right.body.error).toBe('too_many_attempts');
    expect((await browser.get('/api/v1/session')).status).toBe(401);
  });

  it('a wrong code reports the attempts left', async () => {
    const { browser, code } = await openChallenge();
    const reply = await browser.post('/api/v1/login/challenge/verify', { code: wrongFor(code) });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 4 });
  });
});

describe('single use and binding', () => {
  it('a code is single use', async () => {
    const { browser, code, user } = await openChallenge();
    const pending = [...browser.cookies].find(([name]) => name.endsWith('doorman_pending'))!;
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).status).toBe(200);
    // Replaying the old pending cookie with the same code changes nothing.
    browser.cookies.set(pending[0], pending[1]);
    const again = await browser.post('/api/v1/login/challenge/verify', { code });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('no_challenge');
    expect(user.email).toBeTruthy();
  });

  it('two parallel right codes sign in once', async () => {
    const { browser, code } = await openChallenge();
    const replies = await Promise.all([0, 1, 2].map(() => browser.post('/api/v1/login/challenge/verify', { code })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('a code from browser A does not authorize browser B', async () => {
    const { user, code } = await openChallenge();
    const b = doorman.browser();
    const loginB = await b.post('/api/v1/login', { email: user.email, password: user.password });
    expect(loginB.body.status).toBe('verification_required');
    const codeB = await sink.codeFor(user.email, 2);
    expect(codeB).not.toBe(code);
    const reply = await b.post('/api/v1/login/challenge/verify', { code });
    expect(reply.status).toBe(400);
    expect((await b.get('/api/v1/session')).status).toBe(401);
  });

  it("browser A's pending cookie in browser B (with B's device) opens nothing", async () => {
    const a = await openChallenge();
    const b = doorman.browser();
    const other = await doorman.addUser({ twoFactor: false });
    await b.post('/api/v1/login', { email: other.email, password: other.password });
    const pending = [...a.browser.cookies].find(([name]) => name.endsWith('doorman_pending'))!;
    b.cookies.set(pending[0], pending[1]);
    const reply = await b.post('/api/v1/login/challenge/verify', { code: a.code });
    expect(reply.status).toBe(404);
  });
});

describe('expiry', () => {
  it('the code is the same for 15 minutes; then 410, and a new sign-in gets a new code', async () => {
    const { user, browser, code } = await openChallenge();
    clock.advance(14 * 60_000);
    await browser.post('/api/v1/login/challenge/send', { channel: 'email' });
    expect(await sink.codeFor(user.email, 2)).toBe(code);
    clock.advance(60_000);
    const late = await browser.post('/api/v1/login/challenge/verify', { code });
    expect(late.status).toBe(410);
    expect(late.body.error).toBe('challenge_expired');
    expect((await browser.get('/api/v1/login/challenge')).status).toBe(410);
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'email' })).status).toBe(410);

    const again = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(again.body.status).toBe('verification_required');
    const fresh = await sink.codeFor(user.email, 3);
    expect(fresh).not.toBe(code);
    expect((await browser.post('/api/v1/login/challenge/verify', { code: fresh })).status).toBe(200);
  });
});

describe('per-account lock', () => {
  it('10 wrong codes in an hour across challenges lock verification and e-mail the user', async () => {
    const user = await doorman.addUser({ timeZone: 'Europe/Warsaw' });
    let failures = 0;
    for (let round = 0; failures < 10; round++) {
      const browser = doorman.browser();
      await browser.post('/api/v1/login', { email: user.email, password: user.password });
      const code = await sink.codeFor(user.email, round + 1);
      for (let i = 0; i < 4 && failures < 10; i++) {
        const reply = await browser.post('/api/v1/login/challenge/verify', { code: wrongFor(code) });
        failures += 1;
        expect(reply.status).toBe(400);
        // The entry that locks the account promises no more attempts and says until when the lock lasts.
        if (failures === 10) expect(reply.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 0, lockedUntil: new Date(clock.now() + 3600_000).toISOString() });
      }
    }
    const browser = doorman.browser();
    const locked = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(locked.status).toBe(423);
    expect(locked.body.error).toBe('verification_locked');
    expect(Number(locked.headers.get('retry-after'))).toBe(3600);
    await sink.waitFor(() => sink.to(user.email).some((m) => /trying to sign in/i.test(m.subject)));
    expect(sink.to(user.email).filter((m) => /trying to sign in/i.test(m.subject))).toHaveLength(1);
    // The lock e-mail says until when, in the account's time zone and in UTC; so does the code e-mail.
    const lockMail = sink.to(user.email).find((m) => /trying to sign in/i.test(m.subject))!;
    const until = new Date(clock.now() + 3600_000).toISOString().slice(0, 16).replace('T', ' ');
    expect(lockMail.text).toContain(`locked until `);
    expect(lockMail.text).toContain(`(Europe/Warsaw), ${until} UTC.`);
    expect(lockMail.text).toMatch(/Last attempt: .+ \(Europe\/Warsaw\), \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC from IP address/);
    const codeMail = sink.to(user.email).find((m) => /verification code/i.test(m.subject))!;
    expect(codeMail.text).toMatch(/valid until .+ \(Europe\/Warsaw\), \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\./);

    clock.advance(61 * 60_000);
    const later = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(later.body.status).toBe('verification_required');
  });
});
