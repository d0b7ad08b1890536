// Anti-pumping: every sending budget is hit by a test, refusals answer 429/409 with a reason and land in the audit log; bad numbers are refused.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startDoorman, type Running } from '../helpers/harness.js';
import { SmppSink } from '../helpers/smppServer.js';

let smsc: SmppSink;
let doorman: Running;
let phoneCounter = 601_000_100;
const nextPhone = () => `+48${phoneCounter++}`;

beforeAll(async () => {
  smsc = await new SmppSink().start();
  doorman = await startDoorman({
    DOORMAN_SMS_URL: smsc.url(),
    DOORMAN_RESEND_COOLDOWN_SECONDS: '0',
    DOORMAN_LIMIT_SMS_PER_ACCOUNT_HOUR: '2',
    DOORMAN_LIMIT_SMS_PER_ACCOUNT_DAY: '3',
    DOORMAN_LIMIT_SMS_PER_NUMBER_DAY: '4',
    DOORMAN_LIMIT_SMS_PER_IP_HOUR: '100',
    DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR: '3',
    DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_DAY: '5',
  });
});
afterAll(async () => {
  await doorman?.close();
  await smsc?.stop();
});

async function auditCount(event: string, userId: string) {
  const rows = await doorman.doorman.database.db.selectFrom('auditEvents').select(['detail']).where('event', '=', event).where('userId', '=', userId).execute();
  return rows.map((r) => JSON.parse(r.detail ?? '{}'));
}

async function signedInChallenge(phone: string | null, browser = doorman.browser()) {
  const user = await doorman.addUser({ phone });
  await browser.post('/api/v1/login', { email: user.email, password: user.password });
  return { user, browser };
}

describe('sending budgets', () => {
  it('per account and channel per hour: the third SMS within an hour answers 429 with the reason, audited', async () => {
    const { user, browser } = await signedInChallenge(nextPhone());
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    const third = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ error: 'send_limit_reached', reason: 'sms_per_account_hour' });
    expect(third.body.retryAfter).toBeGreaterThan(0);
    expect(await auditCount('code_send_refused', user.id)).toEqual([{ channel: 'sms', limit: 'smsPerAccountHour' }]);
    // E-mail has a budget of its own.
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'email' })).status).toBe(200);
  });

  it('per account and e-mail per hour: fresh browsers cannot flood the inbox', async () => {
    const user = await doorman.addUser();
    for (let i = 0; i < 5; i++) await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    const sent = await auditCount('code_sent', user.id);
    expect(sent).toHaveLength(3);
    expect((await auditCount('code_send_refused', user.id)).every((d) => d.limit === 'emailPerAccountHour')).toBe(true);
  });

  it('per phone number per day: two accounts sharing a number stop at the number budget', async () => {
    const phone = nextPhone();
    const a = await signedInChallenge(phone);
    const b = await signedInChallenge(phone);
    const statuses = [];
    for (const who of [a, a, b, b, b]) statuses.push((await who.browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });

  it('per account and SMS per day', async () => {
    const { browser, user } = await signedInChallenge(nextPhone());
    await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    // A new hour: clear only the hourly budget by hand, the daily one holds.
    const clearHourly = () => sql`DELETE FROM doorman_rate_limits WHERE key LIKE 'smsPerAccountHour%'`.execute(doorman.doorman.database.db);
    await clearHourly();
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    await clearHourly();
    const fourth = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(fourth.status).toBe(429);
    expect(fourth.body.reason).toBe('sms_per_account_day');
    expect(user.id).toBeTruthy();
  });
});

describe('per IP', () => {
  it('SMS sends from one IP per hour stop at the IP budget, across accounts', async () => {
    const local = await startDoorman({ DOORMAN_SMS_URL: smsc.url(), DOORMAN_LIMIT_SMS_PER_IP_HOUR: '2' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const user = await local.addUser({ phone: nextPhone() });
        const browser = local.browser();
        await browser.post('/api/v1/login', { email: user.email, password: user.password });
        const reply = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
        statuses.push(reply.status === 429 ? reply.body.reason : reply.status);
      }
      expect(statuses).toEqual([200, 200, 'sms_per_ip_hour']);
    } finally {
      await local.close();
    }
  });
});

describe('numbers', () => {
  it('SMS is unavailable, with a reason, for a number outside the allow-list', async () => {
    // +1 is a valid mobile number in the US, outside the European default allow-list.
    const res = await doorman.browser().post(
      '/api/v1/admin/users',
      { email: 'us@acme.example', password: 'a-long-password', name: 'US', companyId: doorman.companyId, role: 'employee', phone: '+1 201 555 0123' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(res.status).toBe(201);
    const browser = doorman.browser();
    const login = await browser.post('/api/v1/login', { email: 'us@acme.example', password: 'a-long-password' });
    expect(login.body.challenge.channels.find((c: any) => c.channel === 'sms')).toMatchObject({ available: false, reason: 'country_not_allowed' });
    const send = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(send.status).toBe(409);
    expect(send.body).toMatchObject({ error: 'channel_unavailable', reason: 'country_not_allowed' });
  });

  it.each([
    ['malformed', '12345'],
    ['letters', '+48 abc def ghi'],
    ['a landline', '+48 22 123 45 67'],
    ['a premium-rate number', '+48 701 234 567'],
  ])('the admin API refuses %s phone numbers', async (_name, phone) => {
    const res = await doorman.browser().post(
      '/api/v1/admin/users',
      { email: `x${Math.random()}@acme.example`, password: 'a-long-password', name: 'X', companyId: doorman.companyId, role: 'employee', phone },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('phone');
  });
});
