// Starts a real Doorman (SQLite file in a temp folder, real HTTP on loopback) for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createDoorman, type Doorman, type DoormanOptions } from '../../src/compose.js';
import { createCompany, createUser, type NewUser } from '../../src/flows/provisioning.js';
import { POSTGRES_URL, postgresDatabase } from './databases.js';
import { Browser } from './httpClient.js';

export const TEST_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdefghij';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Running {
  doorman: Doorman;
  baseUrl: string;
  browser(userAgent?: string): Browser;
  addUser(fields?: Partial<NewUser>): Promise<{ id: string; email: string; password: string; companyId: string }>;
  companyId: string;
  close(): Promise<void>;
}

let counter = 0;

/**
 * Starts Doorman on a fresh database of its own: SQLite in a temp folder, or, when
 * DOORMAN_TEST_STORE=postgres (npm run test:postgres), a new PostgreSQL database dropped on close.
 */
export async function startDoorman(env: Record<string, string> = {}, options: DoormanOptions = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-test-'));
  const port = await freePort();
  const postgres = process.env.DOORMAN_TEST_STORE === 'postgres' && !env.DOORMAN_DATABASE_URL ? await postgresDatabase(POSTGRES_URL ?? '') : undefined;
  const config = loadConfig({
    DOORMAN_DATABASE_URL: postgres?.url ?? join(dir, 'doorman.sqlite'),
    DOORMAN_PORT: String(port),
    DOORMAN_PUBLIC_URL: `http://127.0.0.1:${port}`,
    DOORMAN_SECRET: TEST_SECRET,
    DOORMAN_ADMIN_TOKEN: ADMIN_TOKEN,
    DOORMAN_OUTBOX_POLL_MS: '100',
    DOORMAN_OUTBOX_RETRY_BASE_MS: '100',
    DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE: '10000',
    DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: '10000',
    DOORMAN_RATE_SENDS_PER_IP_PER_HOUR: '10000',
    ...env,
  });
  const doorman = await createDoorman(config, options);
  await doorman.app.listen({ port, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;
  const companyId = await createCompany(doorman.ctx, { name: 'Acme Logistics' });
  return {
    doorman,
    baseUrl,
    companyId,
    browser: (userAgent?: string) => new Browser(baseUrl, userAgent),
    async addUser(fields = {}) {
      counter += 1;
      const email = fields.email ?? `user${counter}-${Date.now()}@acme.example`;
      const password = fields.password ?? `password-${counter}-long-enough`;
      const id = await createUser(doorman.ctx, {
        email,
        password,
        name: fields.name ?? `User ${counter}`,
        companyId: fields.companyId ?? companyId,
        role: fields.role ?? 'employee',
        twoFactor: fields.twoFactor ?? true,
        ...fields,
      });
      return { id, email, password, companyId: fields.companyId ?? companyId };
    },
    async close() {
      await doorman.close();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Password step then code step with the code from the SMTP sink; returns the verify reply. */
export async function signInWithCode(
  browser: Browser,
  user: { email: string; password: string },
  readCode: () => Promise<string>,
  trustDevice = false,
) {
  const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
  if (login.body?.status !== 'verification_required') return login;
  const code = await readCode();
  return browser.post('/api/v1/login/challenge/verify', { code, trustDevice });
}
