// Defends the sign-in rate limits at their defaults: per IP about 30 failed attempts a minute, per account 10 wrong passwords per 15 minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoorman, type Running } from '../helpers/harness.js';

let doorman: Running;

beforeAll(async () => {
  doorman = await startDoorman({
    DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE: '30',
    DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: '30',
  });
});
afterAll(async () => doorman?.close());

describe('rate limits', () => {
  it('the 11th wrong password for one account within 15 minutes answers 429, even with the right password', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    for (let i = 0; i < 10; i++) {
      expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: `wrong-${i}` })).status).toBe(401);
    }
    const limited = await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('successful sign-ins do not use up the per-IP budget', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    for (let i = 0; i < 35; i++) {
      expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: user.password })).status, `sign-in ${i}`).toBe(200);
    }
  });

  it('more than 30 failed attempts a minute from one IP answer 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      statuses.push((await doorman.browser().post('/api/v1/login', { email: `nobody${i}@acme.example`, password: 'wrong' })).status);
    }
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(30);
    expect(statuses.at(-1)).toBe(429);
  });
});
