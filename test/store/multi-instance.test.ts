// Several Doorman processes on one PostgreSQL database behave as one service: challenges, cooldowns, attempt caps and delivery are shared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_SKIP_REASON, POSTGRES_URL, postgresDatabase, type TestDatabase } from '../helpers/databases.js';
import { ADMIN_TOKEN, TEST_SECRET, freePort } from '../helpers/harness.js';
import { Browser } from '../helpers/httpClient.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { isCodeMail, SmtpSink } from '../helpers/smtpSink.js';

const skip = !POSTGRES_URL;
if (skip) console.warn(POSTGRES_SKIP_REASON);

let database: TestDatabase;
let sink: SmtpSink;
const instances: ServerProcess[] = [];
let companyId = '';
let counter = 0;

beforeAll(async () => {
  if (skip) return;
  database = await postgresDatabase(POSTGRES_URL!);
  sink = await new SmtpSink().start();
  const [portA, portB] = [await freePort(), await freePort()];
  const env = {
    DOORMAN_DATABASE_URL: database.url,
    DOORMAN_SECRET: TEST_SECRET,
    DOORMAN_ADMIN_TOKEN: ADMIN_TOKEN,
    DOORMAN_SMTP_URL: sink.url,
    DOORMAN_PUBLIC_URL: `http://127.0.0.1:${portA}`,
    DOORMAN_OUTBOX_POLL_MS: '50',
    DOORMAN_OUTBOX_RETRY_BASE_MS: '100',
  };
  // Both start at once, so their migrations race too.
  instances.push(...(await Promise.all([startServerProcess(env, portA), startServerProcess(env, portB)])));
  const admin = new Browser(instances[0]!.baseUrl);
  companyId = (await admin.post('/api/v1/admin/companies', { name: 'Shared' }, { authorization: `Bearer ${ADMIN_TOKEN}` })).body.id;
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await sink?.stop();
  await database?.drop();
});

/** One browser (one cookie jar) talking to both instances, as behind a load balancer. */
function balancedBrowser() {
  const a = new Browser(instances[0]!.baseUrl);
  return [a, new Browser(instances[1]!.baseUrl, undefined, a.cookies)] as const;
}

async function newUser() {
  counter += 1;
  const email = `multi${counter}@shared.example`;
  const reply = await new Browser(instances[1]!.baseUrl).post(
    '/api/v1/admin/users',
    { email, password: 'shared-password-1', name: `Multi ${counter}`, companyId, role: 'employee' },
    { authorization: `Bearer ${ADMIN_TOKEN}` },
  );
  expect(reply.status).toBe(201);
  return { email, password: 'shared-password-1' };
}

describe.skipIf(skip)('two instances on one PostgreSQL database', () => {
  it('a challenge opened through A is verified through B', async () => {
    const user = await newUser();
    const [a, b] = balancedBrowser();
    expect((await a.post('/api/v1/login', user)).body.status).toBe('verification_required');
    const code = await sink.codeFor(user.email);
    const verify = await b.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
    expect(verify.status).toBe(200);
    expect((await a.get('/api/v1/session')).status).toBe(200);
    expect((await b.post('/api/v1/login', user)).body.status).toBe('authenticated');
  });

  it('parallel re-sends spread over both produce exactly one e-mail', async () => {
    const user = await newUser();
    const [a, b] = balancedBrowser();
    await a.post('/api/v1/login', user);
    await sink.codeFor(user.email);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).post('/api/v1/login/challenge/send', { channel: 'email' })));
    expect(replies.every((r) => r.status === 429)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sink.to(user.email).filter(isCodeMail)).toHaveLength(1);
  });

  it('parallel wrong codes over both count at most 5, and the right code is refused afterwards', async () => {
    const user = await newUser();
    const [a, b] = balancedBrowser();
    await a.post('/api/v1/login', user);
    const code = await sink.codeFor(user.email);
    const wrong = code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).post('/api/v1/login/challenge/verify', { code: wrong })));
    expect(replies.filter((r) => r.status === 400)).toHaveLength(5);
    expect((await b.post('/api/v1/login/challenge/verify', { code })).status).toBe(423);
  });

  it('both dispatchers together deliver each message exactly once', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => newUser()));
    await Promise.all(users.map((user, i) => new Browser(instances[i % 2]!.baseUrl).post('/api/v1/login', user)));
    await sink.waitFor(() => users.every((u) => sink.to(u.email).filter(isCodeMail).length >= 1));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const user of users) expect(sink.to(user.email).filter(isCodeMail), user.email).toHaveLength(1);
    const ids = sink.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
