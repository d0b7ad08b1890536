// Defends "an outage delays, never loses": with the SMTP server down, the code e-mail waits in the outbox and arrives once it is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../src/flows/dispatchOutbox.js';
import { countPendingMessages } from '../../src/store/kysely-store.js';
import { freePort, startDoorman, type Running } from '../helpers/harness.js';
import { SmppSink } from '../helpers/smppServer.js';
import { isCodeMail, SmtpSink } from '../helpers/smtpSink.js';

describe('retry back-off', () => {
  it.each([
    [1, 2000],
    [2, 4000],
    [5, 32000],
    [20, 600000],
  ])('attempt %i waits %i ms (doubling, capped at 10 min)', (attempts, expected) => {
    expect(retryDelayMs(attempts, 2000, 600000)).toBe(expected);
  });
});

describe('SMTP outage', () => {
  let doorman: Running;
  let sink: SmtpSink;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    doorman = await startDoorman({ DOORMAN_SMTP_URL: `smtp://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await doorman?.close();
    await sink?.stop();
  });

  it('the code e-mail is delivered once the SMTP server is back, exactly once', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.body.status).toBe('verification_required');
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await countPendingMessages(doorman.doorman.database.db)).toBe(1);
    const row = await doorman.doorman.database.db.selectFrom('outbox').selectAll().executeTakeFirstOrThrow();
    expect(row.attempts).toBeGreaterThanOrEqual(1);
    expect(row.lastError).toBeTruthy();

    sink = await new SmtpSink(port).start();
    const code = await sink.codeFor(user.email);
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(sink.to(user.email).filter(isCodeMail)).toHaveLength(1);
    expect(await countPendingMessages(doorman.doorman.database.db)).toBe(0);
  });

  it('the outbox holds no code: only the challenge id, from which the code is derived with the secret', async () => {
    const rows = await doorman.doorman.database.db.selectFrom('outbox').select(['payload', 'template']).execute();
    const codeRows = rows.filter((r) => r.template === 'verification-code');
    expect(codeRows.length).toBeGreaterThan(0);
    for (const row of codeRows) {
      const payload = JSON.parse(row.payload);
      expect(Object.keys(payload).sort()).toEqual(['challengeId', 'codeLength', 'expiresAt', 'name', 'timeZone']);
    }
  });
});

describe('a stalled SMS server', () => {
  let doorman: Running;
  let sink: SmtpSink;
  let smsc: SmppSink;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    smsc = await new SmppSink().start();
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_SMS_URL: smsc.url() });
  });
  afterAll(async () => {
    smsc.silent = false;
    await doorman?.close();
    await smsc?.stop();
    await sink?.stop();
  });

  it('holds up only its own message: a code e-mail queued after it arrives at once', async () => {
    const texter = await doorman.addUser({ phone: '+48 601 777 001' });
    const texting = doorman.browser();
    await texting.post('/api/v1/login', { email: texter.email, password: texter.password });
    await sink.codeFor(texter.email);
    smsc.silent = true;
    expect((await texting.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    // The SMS is now with the SMSC, which does not answer.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const other = await doorman.addUser();
    const started = Date.now();
    await doorman.browser().post('/api/v1/login', { email: other.email, password: other.password });
    await sink.codeFor(other.email);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
