// SMS by SMPP against a real SMPP server: the code and origin-bound line arrive, link drops are survived, refusals are retried, never dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataCodingFor } from '../../src/delivery/smpp.js';
import { freePort, startDoorman, type Running } from '../helpers/harness.js';
import { SmppSink } from '../helpers/smppServer.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let smtp: SmtpSink;
let smsc: SmppSink;
let doorman: Running;
let phoneCounter = 600_000_100;
const nextPhone = () => `+48${phoneCounter++}`;

beforeAll(async () => {
  smtp = await new SmtpSink().start();
  smsc = await new SmppSink(await freePort()).start();
  doorman = await startDoorman({ DOORMAN_SMTP_URL: smtp.url, DOORMAN_SMS_URL: smsc.url() });
});
afterAll(async () => {
  await doorman?.close();
  await smsc?.stop();
  await smtp?.stop();
});

async function smsChallenge() {
  const phone = nextPhone();
  const user = await doorman.addUser({ phone });
  const browser = doorman.browser();
  const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
  expect(login.body.status).toBe('verification_required');
  return { user, browser, phone, login };
}

describe('GSM-7 or UCS-2', () => {
  it.each([
    ['Your sign-in code is 123456.\n\n@id.example #123456', 0x00],
    ['Twoj kod logowania: 123456', 0x00],
    ['Twój kod logowania: 123456', 0x08],
    ['Код 123456', 0x08],
  ])('%j is sent with data_coding %i', (text, coding) => {
    expect(dataCodingFor(text)).toBe(coding);
  });
});

describe('SMS over SMPP', () => {
  it('the SMS arrives at the number with the same code as the e-mail and the origin-bound last line', async () => {
    const { user, browser, phone, login } = await smsChallenge();
    const sms = login.body.challenge.channels.find((c: any) => c.channel === 'sms');
    expect(sms).toMatchObject({ available: true, destination: `+48 *** *** ${phone.slice(-3)}` });
    const emailCode = await smtp.codeFor(user.email);
    const sent = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(sent.status).toBe(200);
    expect(sent.body.challenge.channels.find((c: any) => c.channel === 'sms').lastSentAt).toBeTruthy();
    await smsc.waitFor(() => smsc.to(phone).length === 1);
    const message = smsc.to(phone)[0]!;
    const host = new URL(doorman.baseUrl).hostname;
    expect(message.text.split('\n').at(-1)).toBe(`@${host} #${emailCode}`);
    expect(message.text.length).toBeLessThanOrEqual(160);
    expect(message.dataCoding).toBe(0);
    expect(smsc.codeFrom(message)).toBe(emailCode);
    expect((await browser.post('/api/v1/login/challenge/verify', { code: smsc.codeFrom(message) })).status).toBe(200);
  });

  it('an SMS re-send within 60 s is refused while the first e-mail send is allowed; parallel SMS sends produce one SMS', async () => {
    const { browser, phone } = await smsChallenge();
    const replies = await Promise.all(Array.from({ length: 8 }, () => browser.post('/api/v1/login/challenge/send', { channel: 'sms' })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 429 && r.body.error === 'resend_too_soon')).toHaveLength(7);
    await smsc.waitFor(() => smsc.to(phone).length === 1);
    const again = await browser.post('/api/v1/login/challenge/send', { channel: 'sms' });
    expect(again.status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smsc.to(phone)).toHaveLength(1);
  });

  it('the SMSC dropping the link: the message is delivered after reconnecting, once', async () => {
    smsc.dropLinks();
    const { browser, phone } = await smsChallenge();
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    await smsc.waitFor(() => smsc.to(phone).length === 1, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smsc.to(phone)).toHaveLength(1);
  });

  it('the SMSC down for a while: the SMS waits in the outbox and goes out when it is back', async () => {
    const port = smsc.port;
    await smsc.stop();
    const { browser, phone } = await smsChallenge();
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 800));
    smsc = await new SmppSink(port).start();
    await smsc.waitFor(() => smsc.to(phone).length === 1, 20_000);
  });

  it('a submit_sm_resp error (throttled) is retried, not dropped', async () => {
    smsc.nextStatuses.push(0x58, 0x58);
    const { browser, phone } = await smsChallenge();
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    await smsc.waitFor(() => smsc.to(phone).length === 1, 15_000);
    const row = await doorman.doorman.database.db.selectFrom('outbox').selectAll().where('recipient', '=', phone).executeTakeFirstOrThrow();
    expect(row.status).toBe('sent');
    expect(row.attempts).toBe(3);
  });

  it('a permanent refusal (invalid destination) is dead-lettered for the operator, not silently dropped', async () => {
    smsc.nextStatuses.push(0x0b);
    const { browser, phone } = await smsChallenge();
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    const db = doorman.doorman.database.db;
    for (let i = 0; i < 50; i++) {
      const row = await db.selectFrom('outbox').select(['status', 'lastError']).where('recipient', '=', phone).executeTakeFirst();
      if (row?.status === 'dead') {
        expect(row.lastError).toMatch(/0x000b/);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the refused SMS was not dead-lettered');
  });
});
