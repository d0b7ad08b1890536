// Defends "an outage loses nothing": while PostgreSQL is unreachable requests answer 503 and the process stays up;
// when it is back the service recovers by itself, and sign-ins committed before the outage are still notified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_SKIP_REASON, POSTGRES_URL, postgresDatabase, type TestDatabase } from '../helpers/databases.js';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';
import { TcpProxy } from '../helpers/tcpProxy.js';

const skip = !POSTGRES_URL;
if (skip) console.warn(POSTGRES_SKIP_REASON);

let database: TestDatabase;
let proxy: TcpProxy;
let sink: SmtpSink;
let doorman: Running;

beforeAll(async () => {
  if (skip) return;
  database = await postgresDatabase(POSTGRES_URL!);
  const target = new URL(database.url);
  proxy = await new TcpProxy(target.hostname, Number(target.port || 5432)).up();
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  sink = await new SmtpSink().start();
  doorman = await startDoorman({ DOORMAN_DATABASE_URL: viaProxy.toString(), DOORMAN_SMTP_URL: sink.url });
});
afterAll(async () => {
  await doorman?.close();
  await proxy?.down();
  await sink?.stop();
  await database?.drop();
});

describe.skipIf(skip)('PostgreSQL outage', () => {
  it('answers 503 while the database is down and recovers without a restart; nothing is lost', { timeout: 120_000 }, async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const before = doorman.browser();
    expect((await before.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
    // The sign-in is committed; its notification may still be waiting when the database goes away.
    await proxy.down();

    const during = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    expect(during.status).toBe(503);
    expect(during.body).toEqual({ error: 'service_unavailable', message: expect.stringMatching(/database/) });
    const health = await doorman.browser().get('/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ error: 'service_unavailable', message: expect.stringMatching(/database/) });
    expect((await before.get('/api/v1/session')).status).toBe(503);
    // A page says it in the reader's language, under a heading of its own.
    const page = await before.get('/account?lang=pl', { accept: 'text/html' });
    expect(page.status).toBe(503);
    expect(page.text).toContain('Chwilowo niedostępne');
    expect(page.text).toContain('bazą danych');

    await proxy.up();
    let healthy = false;
    for (let i = 0; i < 100 && !healthy; i++) {
      healthy = (await doorman.browser().get('/healthz')).status === 200;
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(healthy).toBe(true);
    expect((await before.get('/api/v1/session')).status).toBe(200);
    const after = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    expect(after.status).toBe(200);
    // A message claimed just before the outage stays leased for up to a minute, then goes out.
    await sink.waitFor(() => sink.to(user.email).filter((m) => /new sign-in/i.test(m.subject)).length >= 2, 80_000);
  });

  it('a message sent while the database goes away is recorded once it is back, and sent once', { timeout: 60_000 }, async () => {
    const user = await doorman.addUser({ twoFactor: false });
    sink.acceptDelayMs = 1500;
    try {
      expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
      // The notice is with the (slow) mail server when the database goes away.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await proxy.down();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await proxy.up();
    } finally {
      sink.acceptDelayMs = 0;
    }
    const outbox = () => doorman.doorman.database.db.selectFrom('outbox').select(['status']).where('recipient', '=', user.email).execute();
    for (let i = 0; i < 100 && (await outbox().catch(() => [])).some((row) => row.status !== 'sent'); i++) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await outbox()).toEqual([{ status: 'sent' }]);
    expect(sink.to(user.email)).toHaveLength(1);
  });

  it('a network that swallows packets: requests answer 503 within a bound, and once it passes the service recovers by itself', { timeout: 120_000 }, async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const signedIn = doorman.browser();
    // Warm connections in every pool: sign-ins (flows and rate limits) and session checks.
    await Promise.all(Array.from({ length: 6 }, () => doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })));
    expect((await signedIn.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
    expect((await signedIn.get('/api/v1/session')).status).toBe(200);

    proxy.stall();
    const started = Date.now();
    const during = await Promise.all([
      ...Array.from({ length: 12 }, () => doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })),
      signedIn.get('/api/v1/session'),
      doorman.browser().get('/healthz'),
    ]);
    expect(during.map((reply) => reply.status)).toEqual(during.map(() => 503));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(during[0]!.body).toEqual({ error: 'service_unavailable', message: expect.stringMatching(/database/) });
    proxy.unstall();

    // The connections that lost bytes are closed, not reused: everything works again without a restart.
    let recovered = false;
    for (let i = 0; i < 60 && !recovered; i++) {
      const login = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
      recovered = login.status === 200 && (await doorman.browser().get('/healthz')).status === 200;
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(recovered).toBe(true);
    for (let i = 0; i < 12; i++) expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
    expect((await signedIn.get('/api/v1/session')).status).toBe(200);
  });
});
