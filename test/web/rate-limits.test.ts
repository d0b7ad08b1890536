// Defends the sign-in rate limits at their defaults: per IP about 30 failed attempts a minute, per account 10 wrong passwords per 15 minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInWithCode, startDoorman, type Running } from '../helpers/harness.js';

let doorman: Running;

/** The audit rows of refused sign-in steps, with the limit that refused each. */
async function rateLimitedAudits(event: string) {
  const rows = await doorman.doorman.database.db
    .selectFrom('auditEvents')
    .select(['userId', 'ip', 'userAgent', 'detail'])
    .where('event', '=', event)
    .where('outcome', '=', 'failure')
    .execute();
  return rows
    .map((row) => ({ ...row, detail: JSON.parse(row.detail ?? '{}') as Record<string, unknown> }))
    .filter((row) => row.detail.reason === 'rate_limited');
}

beforeAll(async () => {
  doorman = await startDoorman({
    DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE: '30',
    DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: '30',
  });
});
afterAll(async () => doorman?.close());

describe('rate limits', () => {
  it('the 11th wrong password for one account within 15 minutes answers 429, even with the right password', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    for (let i = 0; i < 10; i++) {
      expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: `wrong-${i}` })).status).toBe(401);
    }
    const limited = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    // A browser is told until when, in its language.
    for (const [lang, words] of [['en', /You can try again after (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC/], ['pl', /Możesz spróbować ponownie po (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC/]] as const) {
      const browser = doorman.browser();
      const page = await browser.get(`/login?lang=${lang}`, { accept: 'text/html' });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
      const form = new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password }).toString();
      const refused = await browser.request('POST', `/login?lang=${lang}`, form, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
      expect(refused.status).toBe(429);
      expect(refused.text).toMatch(words);
    }

    // Refused again: the audit log holds the first refusal only, naming the account, the IP and the browser.
    expect((await doorman.browser('Refused/2.0').post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(429);
    const audited = (await rateLimitedAudits('sign_in')).filter((row) => row.detail.limit === 'loginFailuresPerAccount');
    expect(audited).toEqual([{ userId: user.id, ip: '127.0.0.1', userAgent: expect.stringContaining('Chrome/126.0'), detail: { reason: 'rate_limited', limit: 'loginFailuresPerAccount' } }]);
    // Each wrong password is audited with the browser that sent it.
    const wrong = await doorman.doorman.database.db.selectFrom('auditEvents').select(['userAgent', 'ip']).where('userId', '=', user.id).where('event', '=', 'sign_in').where('detail', 'like', '%invalid_credentials%').execute();
    expect(wrong).toHaveLength(10);
    expect(wrong.every((row) => row.userAgent?.includes('Chrome/126.0') && row.ip === '127.0.0.1')).toBe(true);
  });

  it('successful sign-ins do not use up the per-IP budget', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    for (let i = 0; i < 35; i++) {
      expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).status, `sign-in ${i}`).toBe(200);
    }
  });

  it('more than 30 failed attempts a minute from one IP answer 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      statuses.push((await doorman.browser().post('/api/v1/login', { email: `nobody${i}@acme.example`, password: 'wrong' })).status);
    }
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(30);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(1);
    // One audit row for the flood, not one per refused request; no account is named by these addresses.
    const audited = (await rateLimitedAudits('sign_in')).filter((row) => row.detail.limit === 'loginPerIp');
    expect(audited).toEqual([{ userId: null, ip: '127.0.0.1', userAgent: expect.stringContaining('Chrome/126.0'), detail: { reason: 'rate_limited', limit: 'loginPerIp' } }]);
  });
});

describe('rate-limited code entry', () => {
  let strict: Running;
  beforeAll(async () => {
    strict = await startDoorman({ DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: '2' });
  });
  afterAll(async () => strict?.close());

  it('the refusal is audited once, naming the account of the browser’s challenge', async () => {
    const user = await strict.addUser({ twoFactor: true });
    const browser = strict.browser();
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
    // A one-digit code is always wrong, and counts as a wrong entry.
    for (let i = 0; i < 2; i++) expect((await browser.post('/api/v1/login/challenge/verify', { code: '1' })).status).toBe(400);
    for (let i = 0; i < 3; i++) expect((await browser.post('/api/v1/login/challenge/verify', { code: '1' })).status).toBe(429);
    const rows = await strict.doorman.database.db.selectFrom('auditEvents').select(['event', 'userId', 'detail']).where('detail', 'like', '%rate_limited%').execute();
    expect(rows).toEqual([{ event: 'code_verified', userId: user.id, detail: JSON.stringify({ reason: 'rate_limited', limit: 'codeFailuresPerIp' }) }]);
  });
});

describe('failed passwords from elsewhere do not lock out a trusted browser', () => {
  let local: Running;
  beforeAll(async () => {
    local = await startDoorman();
  });
  afterAll(async () => local?.close());

  async function mailedCode(email: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const mail = local.doorman.mailbox!.list().find((m) => m.to === email && /verification code/i.test(m.subject ?? ''));
      if (mail) return /\b(\d{6})\b/.exec(mail.text)![1]!;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no code');
  }

  it('the trusted browser has a budget of its own once the account’s is spent', async () => {
    const user = await local.addUser({ twoFactor: true });
    const trusted = local.browser();
    expect((await signInWithCode(trusted, user, () => mailedCode(user.email), true)).status).toBe(200);
    await trusted.post('/api/v1/logout');

    // Someone who knows only the address spends the account's budget.
    for (let i = 0; i < 10; i++) expect((await local.browser().post('/api/v1/login', { email: user.email, password: `guess-${i}` })).status).toBe(401);
    expect((await local.browser().post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(429);

    // The owner's trusted browser still signs in, and its successes cost nothing.
    for (let i = 0; i < 3; i++) {
      expect((await trusted.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
    }
    // Its own failures count against its own budget: the 11th attempt after ten wrong ones is refused.
    for (let i = 0; i < 10; i++) expect((await trusted.post('/api/v1/login', { email: user.email, password: `typo-${i}` })).status).toBe(401);
    const refused = await trusted.post('/api/v1/login', { email: user.email, password: user.password });
    expect(refused.status).toBe(429);
    const audited = await local.doorman.database.db.selectFrom('auditEvents').select('detail').where('userId', '=', user.id).where('detail', 'like', '%rate_limited%').execute();
    expect(audited.map((row) => JSON.parse(row.detail!).limit).sort()).toEqual(['loginFailuresPerAccount', 'loginFailuresPerTrustedBrowser']);
  });

  it('an untrusted browser of the account gets no such budget', async () => {
    const user = await local.addUser({ twoFactor: true });
    const known = local.browser();
    expect((await signInWithCode(known, user, () => mailedCode(user.email), false)).status).toBe(200);
    await known.post('/api/v1/logout');
    for (let i = 0; i < 10; i++) expect((await local.browser().post('/api/v1/login', { email: user.email, password: `guess-${i}` })).status).toBe(401);
    expect((await known.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(429);
  });
});

describe('the wrong code that locks the account', () => {
  let local: Running;
  beforeAll(async () => {
    local = await startDoorman({ DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: '10' });
  });
  afterAll(async () => local?.close());

  it('keeps its point in the per-IP budget like any wrong code', async () => {
    const owner = await local.addUser({ twoFactor: true });
    const statuses: number[] = [];
    for (const wrong of [5, 5]) {
      const browser = local.browser();
      expect((await browser.post('/api/v1/login', { email: owner.email, password: owner.password })).body.status).toBe('verification_required');
      for (let i = 0; i < wrong; i++) statuses.push((await browser.post('/api/v1/login/challenge/verify', { code: '1' })).status);
    }
    // The tenth wrong code locks the account.
    expect(statuses).toEqual([400, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    const other = await local.addUser({ twoFactor: true });
    const browser = local.browser();
    expect((await browser.post('/api/v1/login', { email: other.email, password: other.password })).body.status).toBe('verification_required');
    expect((await browser.post('/api/v1/login/challenge/verify', { code: '1' })).status).toBe(429);
  });
});
