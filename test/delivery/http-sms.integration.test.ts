// SMS through the generic HTTP provider: a signed JSON POST {to, text, id}; the signature verifies, failures are retried.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

const KEY = 'http-sms-signing-key-0123456789abcdef';
const received: { to: string; text: string; id: string; verified: boolean; auth: string | undefined }[] = [];
let failNext = 0;
let server: Server;
let smtp: SmtpSink;
let doorman: Running;

/** How a receiving platform checks the signature (the README shows the same steps). */
function verify(header: string | undefined, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const expected = createHmac('sha256', KEY).update(`${match[1]}.${body}`).digest();
  const age = Math.abs(Date.now() / 1000 - Number(match[1]));
  return age < 300 && timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'));
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (failNext > 0) {
        failNext -= 1;
        response.writeHead(503).end();
        return;
      }
      const verified = verify(request.headers['x-doorman-signature'] as string | undefined, body);
      received.push({ ...(JSON.parse(body) as { to: string; text: string; id: string }), verified, auth: request.headers.authorization });
      response.writeHead(verified ? 202 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  smtp = await new SmtpSink().start();
  doorman = await startDoorman({
    DOORMAN_SMTP_URL: smtp.url,
    DOORMAN_SMS_URL: `http://bridge:pa55@127.0.0.1:${port}/sms`,
    DOORMAN_SMS_SIGNING_KEY: KEY,
  });
});
afterAll(async () => {
  await doorman?.close();
  await smtp?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

describe('HTTP SMS provider', () => {
  it('posts {to, text, id} with a valid HMAC signature and Basic credentials from the URL; a 503 is retried', async () => {
    failNext = 1;
    const user = await doorman.addUser({ phone: '+48601999111' });
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect((await browser.post('/api/v1/login/challenge/send', { channel: 'sms' })).status).toBe(200);
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toHaveLength(1);
    const sms = received[0]!;
    expect(sms.verified).toBe(true);
    expect(sms.to).toBe('+48601999111');
    expect(sms.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(sms.auth).toBe(`Basic ${Buffer.from('bridge:pa55').toString('base64')}`);
    expect(sms.text).toMatch(/\n@127\.0\.0\.1 #\d{6}$/);
    expect(sms.text.split('#')[1]).toBe(await smtp.codeFor(user.email));
  });

  it('a tampered body fails the signature check', () => {
    const body = JSON.stringify({ to: '+48601999111', text: 'x', id: 'y' });
    const t = Math.floor(Date.now() / 1000);
    const header = `t=${t},v1=${createHmac('sha256', KEY).update(`${t}.${body}`).digest('hex')}`;
    expect(verify(header, body)).toBe(true);
    expect(verify(header, body.replace('x', 'z'))).toBe(false);
  });
});
