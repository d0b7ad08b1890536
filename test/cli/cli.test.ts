// The doorman command as a newcomer uses it: migrate, create a company and a user (password on stdin), and the demo.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/httpClient.js';
import { freePort } from '../helpers/harness.js';

const CLI = 'dist/cli/doorman.cjs';
let dir: string;
let env: NodeJS.ProcessEnv;

function doorman(args: string[], input?: string): string {
  return execFileSync(process.execPath, [CLI, ...args], { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'doorman-cli-'));
  env = { ...process.env, DOORMAN_DATABASE_URL: join(dir, 'doorman.sqlite'), DOORMAN_LOG_LEVEL: 'silent' };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('doorman CLI', () => {
  it('migrate applies the migrations once', () => {
    expect(doorman(['migrate'])).toMatch(/applied: 0001_companies_users/);
    expect(doorman(['migrate'])).toMatch(/up to date/);
  });

  it('creates a company and a user whose password comes from stdin', async () => {
    const companyId = doorman(['company', 'create', '--name', 'Beta Freight']).trim();
    expect(companyId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const userId = doorman(['user', 'create', '--email', 'jan@beta.example', '--name', 'Jan', '--company', companyId, '--no-two-factor'], 'stdin-password-123\n').trim();
    expect(userId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const port = await freePort();
    const server = spawn(process.execPath, [CLI, 'serve'], { env: { ...env, DOORMAN_PORT: String(port) }, stdio: 'ignore' });
    try {
      const browser = new Browser(`http://127.0.0.1:${port}`);
      let login;
      for (let i = 0; i < 50; i++) {
        login = await browser.post('/api/v1/login', { email: 'jan@beta.example', password: 'stdin-password-123' }).catch(() => undefined);
        if (login) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(login?.body.status).toBe('authenticated');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('updates a user (verified by whom) and a company policy', async () => {
    const companyId = doorman(['company', 'create', '--name', 'Gamma Cargo']).trim();
    doorman(['user', 'create', '--email', 'rep@gamma.example', '--name', 'Rep', '--company', companyId, '--role', 'employee'], 'stdin-password-123\n');
    expect(doorman(['user', 'update', '--email', 'rep@gamma.example', '--role', 'authorized', '--verified', 'on', '--verified-by', 'Operator Olga', '--two-factor', 'off'])).toMatch(/updated/);
    const policy = JSON.parse(doorman(['company', 'policy', '--id', companyId, '--require-authorization', 'on', '--trusted-days', '7', '--sms', 'off']));
    expect(policy).toMatchObject({ requireAuthorization: true, trustedDeviceDays: 7, smsAllowed: false });
    const { openDatabase } = await import('../../src/store/db.js');
    const database = openDatabase(env.DOORMAN_DATABASE_URL as string);
    const row = await database.db.selectFrom('users').selectAll().where('emailNormalized', '=', 'rep@gamma.example').executeTakeFirstOrThrow();
    await database.close();
    expect(row).toMatchObject({ role: 'authorized', personalDataVerifiedBy: 'Operator Olga', twoFactorEnabledAt: null });
    expect(row.personalDataVerifiedAt).toBeGreaterThan(0);
    expect(() => doorman(['company', 'policy', '--id', companyId, '--sms', 'maybe'])).toThrow(/--sms must be on or off/);
  });

  it('reads an id that begins with a dash as the value of its option', () => {
    for (const args of [
      ['outbox', '--retry', '-x1'],
      ['company', 'policy', '--id', '-x1', '--sms', 'on'],
    ]) {
      let stderr = '';
      try {
        doorman(args);
      } catch (error) {
        stderr = String((error as { stderr?: unknown }).stderr);
      }
      expect(stderr, args.join(' ')).toMatch(/no failed message -x1|no such company/i);
      expect(stderr, args.join(' ')).not.toMatch(/ambiguous/);
    }
    // An option given no value is still refused as such, and a word after it is not taken for a value.
    expect(() => doorman(['company', 'policy', '--id', '--sms', 'on'])).toThrow(/--id/);
    expect(() => doorman(['company', 'create', '--name', '--force'])).toThrow(/--name/);
  });

  it('digest without a mail server leaves the digests to the running server (its dev mailbox is in its memory)', () => {
    expect(doorman(['digest'])).toMatch(/^0 digest\(s\) queued; the running server delivers them to its dev mailbox$/m);
  });

  it('warns of a DOORMAN_ variable that is no setting, and goes on', () => {
    const run = spawnSync(process.execPath, [CLI, 'help'], { env: { ...env, DOORMAN_SMTP_ULR: 'smtp://mail.example' }, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('doorman: warning: DOORMAN_SMTP_ULR is not a Doorman setting and is ignored');
  });

  it('refuses bad input with a clear message and exit code 2', () => {
    expect(() => doorman(['user', 'create', '--email', 'bad', '--name', 'X', '--company', 'c'], 'stdin-password-123\n')).toThrow(/--email: email is not a valid address/);
    expect(() => doorman(['user', 'create', '--email', 'x@beta.example', '--name', 'X', '--company', 'c'], 'short\n')).toThrow(/password/);
    expect(() => doorman(['user', 'create', '--bogus'])).toThrow(/Unknown option '--bogus'/);
  });

  it.each([
    ['a PostgreSQL server that is down', async () => `postgres://postgres@127.0.0.1:${await freePort()}/none`, /^doorman: cannot reach the database named by DOORMAN_DATABASE_URL: .*ECONNREFUSED/],
    ['an SQLite path that is a folder', async () => mkdtempSync(join(tmpdir(), 'doorman-folder-')), /^doorman: unable to open database file \(SQLITE_CANTOPEN\)/],
  ])('a database that cannot be opened (%s) is named in one line, without a stack trace', async (_name, url, message) => {
    let stderr = '';
    try {
      execFileSync(process.execPath, [CLI, 'migrate'], { env: { ...env, DOORMAN_DATABASE_URL: await url() }, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (error) {
      stderr = String((error as { stderr?: unknown }).stderr);
    }
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it.skipIf(!existsSync('/proc/self/task'))('serve hashes passwords on one thread per core, where Node alone would start four', async () => {
    const { UV_THREADPOOL_SIZE: _, ...inherited } = env;
    const threadsOf = async (entry: string) => {
      const port = await freePort();
      const server = spawn(process.execPath, [entry, 'serve'], { env: { ...inherited, DOORMAN_PORT: String(port) }, stdio: 'ignore' });
      try {
        const browser = new Browser(`http://127.0.0.1:${port}`);
        let ready;
        for (let i = 0; i < 100 && !ready; i++) {
          ready = await browser.get('/healthz').catch(() => undefined);
          if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(ready?.status).toBe(200);
        return readdirSync(`/proc/${server.pid}/task`).length;
      } finally {
        server.kill('SIGTERM');
      }
    };
    // The same program started without the entry point that sizes the pool: Node's default of 4 threads.
    const unsized = await threadsOf('dist/cli/main.js');
    expect(await threadsOf(CLI)).toBe(unsized - 4 + Math.max(2, availableParallelism()));
  });

  /** Starts `doorman demo` and waits until its banner has printed as far as `until`. */
  async function startDemo(extraEnv: NodeJS.ProcessEnv, until: RegExp) {
    const child = spawn(process.execPath, [CLI, 'demo'], { env: { ...env, ...extraEnv } });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`demo did not start: ${out}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (until.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } catch (error) {
      child.kill('SIGTERM');
      throw error;
    }
    return { child, out };
  }

  it('demo with an SMTP server set names it instead of a mailbox that is not there', async () => {
    const port = await freePort();
    const smtpPort = await freePort();
    const { child, out } = await startDemo(
      { DOORMAN_PORT: String(port), DOORMAN_DATABASE_URL: join(dir, 'demo-smtp.sqlite'), DOORMAN_SMTP_URL: `smtp://127.0.0.1:${smtpPort}` },
      /DOORMAN_SMTP_URL|Dev mailbox/,
    );
    try {
      expect(out).toContain('go out through DOORMAN_SMTP_URL');
      expect(out).not.toContain('/dev/mailbox');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('demo seeds Acme Logistics, prints the accounts and the mailbox, and serves', async () => {
    const port = await freePort();
    const { child, out } = await startDemo({ DOORMAN_PORT: String(port), DOORMAN_DATABASE_URL: join(dir, 'demo.sqlite') }, /Dev mailbox/);
    try {
      expect(out).toMatch(/anna@acme\.example\s+password: \S+/);
      expect(out).toMatch(/piotr@acme\.example/);
      expect(out).toMatch(/ewa@acme\.example/);
      const browser = new Browser(`http://127.0.0.1:${port}`);
      let login;
      for (let i = 0; i < 50 && !login; i++) {
        login = await browser.post('/api/v1/login', { email: 'piotr@acme.example', password: 'demo-piotr-2026' }).catch(() => undefined);
        if (!login) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(login?.body.status).toBe('verification_required');
      expect(login?.body.challenge.channels.find((c: any) => c.channel === 'sms').available).toBe(true);
      let mailbox;
      for (let i = 0; i < 30; i++) {
        mailbox = await browser.get('/dev/mailbox.json');
        if (mailbox.body.messages.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(mailbox?.body.messages[0]).toMatchObject({ channel: 'email', to: 'piotr@acme.example' });
      const page = await browser.get('/dev/mailbox');
      expect(page.text).toContain('piotr@acme.example');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
