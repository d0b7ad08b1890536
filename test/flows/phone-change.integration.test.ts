// Adding or changing the phone number needs the password and a code sent to the new number; the e-mail address is told.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startDoorman, type Running } from '../helpers/harness.js';
import { SmppSink } from '../helpers/smppServer.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let smtp: SmtpSink;
let smsc: SmppSink;
let doorman: Running;

beforeAll(async () => {
  smtp = await new SmtpSink().start();
  smsc = await new SmppSink().start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: smtp.url, DOORMAN_SMS_URL: smsc.url() });
});
afterAll(async () => {
  await doorman?.close();
  await smsc?.stop();
  await smtp?.stop();
});

async function signedIn(phone: string | null = null) {
  const user = await doorman.addUser({ twoFactor: false, phone });
  const browser = doorman.browser();
  expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('authenticated');
  return { user, browser };
}

describe('phone number changes', () => {
  it('a number set or removed by the operator is reported to the e-mail address too', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const phoneMails = () => smtp.to(user.email).filter((m) => /phone number/i.test(m.subject));
    expect((await doorman.browser().request('PATCH', `/api/v1/admin/users/${user.id}`, { phone: '+48 601 555 077' }, admin)).status).toBe(200);
    await smtp.waitFor(() => phoneMails().length === 1);
    expect(phoneMails()[0]!.text).toContain('+48 *** *** 077');
    expect(phoneMails()[0]!.text).toContain('by the service operator');
    expect((await doorman.browser().request('PATCH', `/api/v1/admin/users/${user.id}`, { phone: null }, admin)).status).toBe(200);
    await smtp.waitFor(() => phoneMails().length === 2);
    expect(phoneMails()[1]!.text).toMatch(/removed/);
    // Setting the same number again changes nothing and says nothing.
    expect((await doorman.browser().request('PATCH', `/api/v1/admin/users/${user.id}`, { phone: null }, admin)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(phoneMails()).toHaveLength(2);
  });

  it('a new number is saved only after the code sent to it, and the e-mail address is told', async () => {
    const { user, browser } = await signedIn();
    const start = await browser.post('/api/v1/me/phone', { phone: '+48 601 555 001', password: user.password });
    expect(start.status).toBe(200);
    expect(start.body.pending.destination).toBe('+48 *** *** 001');
    await smsc.waitFor(() => smsc.to('+48601555001').length === 1);
    const sms = smsc.to('+48601555001')[0]!;
    expect(sms.text).toMatch(/\n@127\.0\.0\.1 #\d{6}$/);

    // Not yet saved: signing in elsewhere still offers no SMS.
    const before = await doorman.doorman.ctx.store.findUserById(user.id);
    expect(before?.phone).toBeNull();

    const wrong = await browser.post('/api/v1/me/phone/verify', { code: smsc.codeFrom(sms) === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 4 });
    const ok = await browser.post('/api/v1/me/phone/verify', { code: smsc.codeFrom(sms) });
    expect(ok.status).toBe(200);
    expect(ok.body.phone).toBe('+48 *** *** 001');
    const after = await doorman.doorman.ctx.store.findUserById(user.id);
    expect(after?.phone).toBe('+48601555001');
    expect(after?.phoneVerifiedAt).toBeTruthy();
    await smtp.waitFor(() => smtp.to(user.email).some((m) => /phone number/i.test(m.subject)));
    expect(smtp.to(user.email).find((m) => /phone number/i.test(m.subject))!.text).toContain('+48 *** *** 001');
    // The code is single use.
    expect((await browser.post('/api/v1/me/phone/verify', { code: smsc.codeFrom(sms) })).status).toBe(404);
  });

  it('the wrong password changes nothing and sends nothing', async () => {
    const { browser } = await signedIn();
    const reply = await browser.post('/api/v1/me/phone', { phone: '+48 601 555 002', password: 'not-the-password' });
    expect(reply.status).toBe(403);
    expect(reply.body.error).toBe('invalid_password');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smsc.to('+48601555002')).toHaveLength(0);
  });

  it.each([
    ['malformed', '12345', 'invalid_phone'],
    ['CR/LF and text after a', '+48601555003\r\nX', 'invalid_phone'],
    ['an extension after a', '+48 601 555 004 ext 5', 'invalid_phone'],
    ['a bidi override before a', '\u202e+48601555005', 'invalid_phone'],
    ['a tel: URI of a', 'tel:+48601555006;foo=<script>', 'invalid_phone'],
    ['a landline', '+48 22 123 45 67', 'not_mobile'],
    ['premium-rate', '+48 701 234 567', 'premium_rate'],
    ['outside the allow-list', '+1 201 555 0123', 'country_not_allowed'],
  ])('a %s number is refused with its reason', async (_name, phone, reason) => {
    const { user, browser } = await signedIn();
    const reply = await browser.post('/api/v1/me/phone', { phone, password: user.password });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_phone', reason });
    // Refused before any send: no SMS budget is used.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(smsc.to(`+${phone.replace(/\D/g, '')}`)).toHaveLength(0);
  });

  it('a spent SMS budget refuses the code with a snake_case reason, as on the sign-in path', async () => {
    const local = await startDoorman({ DOORMAN_SMTP_URL: smtp.url, DOORMAN_SMS_URL: smsc.url(), DOORMAN_LIMIT_SMS_PER_ACCOUNT_HOUR: '1', DOORMAN_RESEND_COOLDOWN_SECONDS: '1' });
    try {
      const user = await local.addUser({ twoFactor: false });
      const browser = local.browser();
      await browser.post('/api/v1/login', { email: user.email, password: user.password });
      expect((await browser.post('/api/v1/me/phone', { phone: '+48 601 555 031', password: user.password })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const refused = await browser.post('/api/v1/me/phone', { phone: '+48 601 555 032', password: user.password });
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: 'send_limit_reached', reason: 'sms_per_account_hour' });
    } finally {
      await local.close();
    }
  });

  it('the number the account already has is refused as unchanged: no text, no e-mail', async () => {
    const { user, browser } = await signedIn('+48601555051');
    const reply = await browser.post('/api/v1/me/phone', { phone: '+48 601 555 051', password: user.password });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_phone', reason: 'unchanged' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smsc.to('+48601555051')).toHaveLength(0);
    expect(smtp.to(user.email).filter((m) => /phone number/i.test(m.subject))).toHaveLength(0);
  });

  it('asking again within the re-send cooldown texts nothing, whatever the number', async () => {
    const { user, browser } = await signedIn();
    expect((await browser.post('/api/v1/me/phone', { phone: '+48 601 555 041', password: user.password })).status).toBe(200);
    for (const phone of ['+48 601 555 041', '+48 601 555 042']) {
      const again = await browser.post('/api/v1/me/phone', { phone, password: user.password });
      expect(again.status).toBe(429);
      expect(again.body).toMatchObject({ error: 'resend_too_soon', retryAfter: expect.any(Number) });
      expect(again.body.retryAfter).toBeLessThanOrEqual(60);
    }
    await smsc.waitFor(() => smsc.to('+48601555041').length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smsc.to('+48601555041')).toHaveLength(1);
    expect(smsc.to('+48601555042')).toHaveLength(0);
  });

  it('removing the number needs the password and is told to the e-mail address', async () => {
    const { user, browser } = await signedIn('+48601555003');
    expect((await browser.post('/api/v1/me/phone/remove', { password: 'wrong-password' })).status).toBe(403);
    expect((await browser.post('/api/v1/me/phone/remove', { password: user.password })).status).toBe(200);
    expect((await doorman.doorman.ctx.store.findUserById(user.id))?.phone).toBeNull();
    await smtp.waitFor(() => smtp.to(user.email).some((m) => /phone number/i.test(m.subject) && /removed/.test(m.text)));
  });

  it('needs a session', async () => {
    expect((await doorman.browser().post('/api/v1/me/phone', { phone: '+48601555004', password: 'x' })).status).toBe(401);
  });
});
