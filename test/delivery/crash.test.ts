// Defends "a crash loses nothing": the process killed with SIGKILL after sign-ins committed but before delivery sends every message after restart, once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, TEST_SECRET, freePort } from '../helpers/harness.js';
import { Browser } from '../helpers/httpClient.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { SmtpSink } from '../helpers/smtpSink.js';

const dir = mkdtempSync(join(tmpdir(), 'doorman-crash-'));
let server: ServerProcess | undefined;
let sink: SmtpSink | undefined;

afterAll(async () => {
  await server?.stop('SIGKILL');
  await sink?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('crash between commit and delivery', () => {
  it('every notification and code e-mail is delivered after a restart, exactly once', { timeout: 120_000 }, async () => {
    const smtpPort = await freePort();
    const port = await freePort();
    const env = {
      DOORMAN_DATABASE_URL: join(dir, 'doorman.sqlite'),
      DOORMAN_SECRET: TEST_SECRET,
      DOORMAN_ADMIN_TOKEN: ADMIN_TOKEN,
      DOORMAN_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      DOORMAN_OUTBOX_POLL_MS: '100',
      DOORMAN_OUTBOX_RETRY_BASE_MS: '100',
    };
    server = await startServerProcess(env, port);
    const admin = new Browser(server.baseUrl);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const { body: company } = await admin.post('/api/v1/admin/companies', { name: 'Acme' }, auth);
    const users = [];
    for (let i = 0; i < 3; i++) {
      const email = `crash${i}@acme.example`;
      await admin.post('/api/v1/admin/users', { email, password: 'crash-password-1', name: `User ${i}`, companyId: company.id, role: 'employee', twoFactor: i !== 0 }, auth);
      users.push(email);
    }
    for (const email of users) {
      const reply = await new Browser(server.baseUrl).post('/api/v1/login', { email, password: 'crash-password-1' });
      expect(reply.status).toBe(200);
    }

    // The SMTP server is down, so nothing has left; now the process dies without any chance to clean up.
    await server.stop('SIGKILL');
    sink = await new SmtpSink(smtpPort).start();
    server = await startServerProcess(env, port);

    // Rows the dead process had claimed stay leased for up to a minute (the lease outlives any delivery attempt).
    await sink.waitFor((messages) => messages.length >= 3, 75_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sink.to('crash0@acme.example').filter((m) => /new sign-in/i.test(m.subject))).toHaveLength(1);
    expect(sink.to('crash1@acme.example').filter((m) => /verification code/i.test(m.subject))).toHaveLength(1);
    expect(sink.to('crash2@acme.example').filter((m) => /verification code/i.test(m.subject))).toHaveLength(1);
    expect(sink.messages).toHaveLength(3);
  });
});
