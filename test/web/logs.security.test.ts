// Defends "secrets, codes and tokens never reach a log": a full sign-in at trace level, with delivery failures, leaves none in the log.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/web/app.js';
import { freePort, startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
let doorman: Running;
let log = '';

beforeAll(async () => {
  const port = await freePort();
  sink = new SmtpSink(port);
  const stream = new Writable({
    write(chunk, _encoding, done) {
      log += chunk.toString();
      done();
    },
  });
  // The SMTP server is down at first, so delivery failures are logged too.
  doorman = await startDoorman({ DOORMAN_SMTP_URL: `smtp://127.0.0.1:${port}` }, { logger: loggerOptions('trace', stream) });
});
afterAll(async () => {
  await doorman?.close();
  await sink?.stop();
});

describe('logs', () => {
  it('never contain a code, a password or a token', async () => {
    const user = await doorman.addUser();
    const browser = doorman.browser();
    await browser.post('/api/v1/login', { email: user.email, password: 'wrong-password-123' });
    await browser.post('/api/v1/login', { email: user.email, password: user.password });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sink.start();
    const code = await sink.codeFor(user.email);
    await browser.post('/api/v1/login/challenge/verify', { code: '000000' === code ? '111111' : '000000' });
    await browser.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
    await browser.get('/api/v1/session');
    await browser.post('/api/v1/logout');
    // The "This wasn't me" link from the new-device e-mail: its token is in the path.
    await sink.waitFor(() => sink.to(user.email).some((m) => /new sign-in/i.test(m.subject)));
    const reportPath = /\/report\/[A-Za-z0-9_.-]+/.exec(sink.to(user.email).find((m) => /new sign-in/i.test(m.subject))!.text)![0];
    expect((await browser.get(`${reportPath}?x=1`)).status).toBe(200);
    // Mangled forms of the link (a doubled slash, another case) answer 404, and their token stays out of the log too.
    expect((await browser.get(reportPath.replace('/report/', '/report//'))).status).toBe(404);
    expect((await browser.get(reportPath.replace('/report/', '/Report/'))).status).toBe(404);

    const secrets = [code, user.password, 'wrong-password-123', reportPath.slice('/report/'.length), ...[...browser.cookies.values()].map((c) => c.value)];
    expect(log.length).toBeGreaterThan(1000);
    expect(log).toMatch(/delivery failed/);
    expect(log).toContain('/report/[redacted]');
    for (const secret of secrets) expect(log.includes(secret), `log contains ${secret.slice(0, 4)}…`).toBe(false);
    // Even the hashes of tokens stay out.
    expect(log).not.toMatch(/token_?hash/i);
  });
});
