// Which IP address Doorman records and e-mails: the socket's, or X-Forwarded-For only from proxies
// DOORMAN_TRUST_PROXY names, and only when what they forward is an address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await new SmtpSink().start();
});
afterAll(async () => sink?.stop());

/** Signs in (no verification) with the given X-Forwarded-For and returns the recorded session IP and the new-device e-mail. */
async function signInFrom(doorman: Running, forwardedFor: string | undefined) {
  const user = await doorman.addUser({ twoFactor: false });
  const browser = doorman.browser();
  const headers: Record<string, string> = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  expect((await browser.post('/api/v1/login', { email: user.email, password: user.password }, headers)).body.status).toBe('authenticated');
  const session = (await browser.get('/api/v1/session')).body.session;
  await sink.waitFor(() => sink.to(user.email).some((m) => /new sign-in/i.test(m.subject)));
  const mail = sink.to(user.email).find((m) => /new sign-in/i.test(m.subject))!;
  return { ip: session.ip as string, mail: mail.text };
}

describe('without DOORMAN_TRUST_PROXY', () => {
  let doorman: Running;
  beforeAll(async () => {
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url });
  });
  afterAll(async () => doorman?.close());

  it('X-Forwarded-For is ignored: the socket address is recorded and e-mailed', async () => {
    const { ip, mail } = await signInFrom(doorman, '203.0.113.7');
    expect(ip).toBe('127.0.0.1');
    expect(mail).toContain('127.0.0.1');
    expect(mail).not.toContain('203.0.113.7');
  });
});

describe('with DOORMAN_TRUST_PROXY naming the proxy', () => {
  let doorman: Running;
  beforeAll(async () => {
    // The default per-IP sign-in limit (the harness lifts it for other tests).
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_TRUST_PROXY: '127.0.0.1', DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE: '30' });
  });
  afterAll(async () => doorman?.close());

  it('the forwarded client address is recorded and e-mailed', async () => {
    const { ip, mail } = await signInFrom(doorman, '203.0.113.7');
    expect(ip).toBe('203.0.113.7');
    expect(mail).toContain('203.0.113.7');
  });

  it('an address added by an untrusted hop is the client; the one before it was written by the client and is not believed', async () => {
    expect((await signInFrom(doorman, '198.51.100.1, 203.0.113.9')).ip).toBe('203.0.113.9');
  });

  it('failed sign-ins are limited per /64 for IPv6: a fresh address in the same network for each try does not escape the limit', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 31; i++) {
      // A different account each time, so that only the per-IP limit can refuse.
      const reply = await doorman.browser().post('/api/v1/login', { email: `guess-${i}-${Date.now()}@acme.example`, password: 'wrong' }, { 'x-forwarded-for': `2001:db8:77:1:${i.toString(16)}::1` });
      statuses.push(reply.status);
    }
    expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
    // The next network is another client.
    const other = await doorman.browser().post('/api/v1/login', { email: `nobody-${Date.now()}@acme.example`, password: 'wrong' }, { 'x-forwarded-for': '2001:db8:77:2::1' });
    expect(other.status).toBe(401);
  });

  it('a forwarded address with a port is recorded without the port', async () => {
    expect((await signInFrom(doorman, '203.0.113.8:51234')).ip).toBe('203.0.113.8');
    expect((await signInFrom(doorman, '[2001:db8::7]:443')).ip).toBe('2001:db8::7');
    // A zone is any text a client may have written: not recorded.
    expect((await signInFrom(doorman, 'fe80::1%Call-support-555')).ip).toBe('fe80::1');
  });

  it.each(['garbage', '<b>x</b>', '999.1.1.1'])('a forwarded value that is not an address (%j) is not believed: the proxy address stands', async (value) => {
    const { ip, mail } = await signInFrom(doorman, value);
    expect(ip).toBe('127.0.0.1');
    expect(mail).not.toContain(value);
  });
});

describe('with DOORMAN_TRUST_PROXY as a hop count', () => {
  let doorman: Running;
  beforeAll(async () => {
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_TRUST_PROXY: '1' });
  });
  afterAll(async () => doorman?.close());

  it('one hop: the last forwarded address is the client', async () => {
    expect((await signInFrom(doorman, '198.51.100.1, 203.0.113.9')).ip).toBe('203.0.113.9');
  });
});
