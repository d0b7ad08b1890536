// Defends "a PostgreSQL restart loses nothing": a real server of the test's own is stopped (every
// connection cut) and started again under a running `doorman serve`. During the outage requests answer
// 503 and the process stays up; afterwards it recovers by itself, sessions and open challenges opened
// before still work, and every notification queued before goes out once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, TEST_SECRET, freePort } from '../helpers/harness.js';
import { Browser } from '../helpers/httpClient.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/privatePostgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { SmtpSink, isCodeMail } from '../helpers/smtpSink.js';

let postgres: PrivatePostgres | undefined;
let skipReason: string | undefined;
let sink: SmtpSink;
let server: ServerProcess;

beforeAll(async () => {
  const started = await startPrivatePostgres();
  if (typeof started === 'string') {
    skipReason = started;
    console.warn(started);
    return;
  }
  postgres = started;
  sink = await new SmtpSink().start();
  server = await startServerProcess(
    {
      DOORMAN_DATABASE_URL: postgres.url,
      DOORMAN_SECRET: TEST_SECRET,
      DOORMAN_ADMIN_TOKEN: ADMIN_TOKEN,
      DOORMAN_SMTP_URL: sink.url,
      DOORMAN_OUTBOX_POLL_MS: '100',
      DOORMAN_OUTBOX_RETRY_BASE_MS: '100',
    },
    await freePort(),
  );
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await sink?.stop();
  await postgres?.destroy();
});

const newSignIn = (m: { subject: string }) => /new sign-in/i.test(m.subject);

describe('PostgreSQL restart under a running server', () => {
  it('answers 503 while PostgreSQL is stopped, recovers by itself, and loses no sign-in or notification', { timeout: 180_000 }, async (context) => {
    if (skipReason) return context.skip();
    const admin = new Browser(server.baseUrl);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const { body: company } = await admin.post('/api/v1/admin/companies', { name: 'Acme' }, auth);
    const password = 'restart-password-1';
    const [plain, verified, late] = ['plain@acme.example', 'verified@acme.example', 'late@acme.example'];
    for (const email of [plain, verified, late]) {
      const created = await admin.post('/api/v1/admin/users', { email, password, name: email, companyId: company.id, role: 'employee', twoFactor: email === verified }, auth);
      expect(created.status).toBe(201);
    }

    const signedIn = new Browser(server.baseUrl);
    expect((await signedIn.post('/api/v1/login', { email: plain, password })).body.status).toBe('authenticated');
    const pending = new Browser(server.baseUrl);
    expect((await pending.post('/api/v1/login', { email: verified, password })).body.status).toBe('verification_required');
    const code = await sink.codeFor(verified);
    // Committed just before the restart: its notification may not have left yet.
    expect((await new Browser(server.baseUrl).post('/api/v1/login', { email: late, password })).status).toBe(200);

    await postgres!.stop();

    const during = await new Browser(server.baseUrl).post('/api/v1/login', { email: plain, password });
    expect(during.status).toBe(503);
    expect(during.body).toEqual({ error: 'service_unavailable', message: expect.stringMatching(/database/) });
    expect(during.headers.get('retry-after')).toBeTruthy();
    expect((await signedIn.get('/api/v1/session')).status).toBe(503);
    expect((await admin.get('/healthz')).status).toBe(503);
    expect(server.child.exitCode).toBeNull();

    await postgres!.start();
    let healthy = false;
    for (let i = 0; i < 300 && !healthy; i++) {
      healthy = (await admin.get('/healthz')).status === 200;
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(healthy).toBe(true);
    expect(server.child.exitCode).toBeNull();

    // The session and the open challenge from before the restart both still work.
    expect((await signedIn.get('/api/v1/session')).status).toBe(200);
    const verify = await pending.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
    expect(verify.status).toBe(200);
    expect((await new Browser(server.baseUrl).post('/api/v1/login', { email: plain, password })).status).toBe(200);

    // Every notification goes out once (a message claimed as the connections dropped waits out its lease).
    await sink.waitFor(() => [plain, verified, late].every((email) => sink.to(email).some(newSignIn)) && sink.to(plain).filter(newSignIn).length >= 2, 90_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sink.to(late).filter(newSignIn)).toHaveLength(1);
    expect(sink.to(verified).filter(newSignIn)).toHaveLength(1);
    expect(sink.to(verified).filter(isCodeMail)).toHaveLength(1);
    expect(sink.to(plain).filter(newSignIn)).toHaveLength(2);
  });
});
