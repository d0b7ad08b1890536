// Cookies: HttpOnly and SameSite always; Secure and __Host- on https; the session cookie ends with the browser; only opaque tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await new SmtpSink().start();
});
afterAll(async () => sink?.stop());

async function allCookies(doorman: Running) {
  const user = await doorman.addUser();
  const browser = doorman.browser();
  const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
  const code = await sink.codeFor(user.email);
  const verify = await browser.post('/api/v1/login/challenge/verify', { code, trustDevice: true });
  expect(verify.status).toBe(200);
  const page = await browser.get('/login');
  const language = await browser.get('/account?lang=pl', { accept: 'text/html' });
  expect(language.setCookies.some((line) => line.split('=')[0]!.endsWith('doorman_lang'))).toBe(true);
  // The chosen language is read back under the same name.
  expect((await browser.get('/account', { accept: 'text/html', 'accept-language': 'en' })).text).toContain('lang="pl"');
  return [...login.setCookies, ...verify.setCookies, ...page.setCookies, ...language.setCookies];
}

const attrs = (line: string) => line.split(';').map((a) => a.trim().toLowerCase());
const named = (lines: string[], name: string) => lines.filter((l) => l.split('=')[0]!.endsWith(name) && !/max-age=0|expires=thu, 01 jan 1970/i.test(l));

describe.each([
  ['http', 'http://localhost:3000', ''],
  ['https', 'https://doorman.example', '__Host-'],
])('on an %s public URL', (scheme, publicUrl, prefix) => {
  let doorman: Running;
  beforeAll(async () => {
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_PUBLIC_URL: publicUrl });
  });
  afterAll(async () => doorman?.close());

  it('every cookie is HttpOnly with SameSite Lax or Strict', async () => {
    const lines = await allCookies(doorman);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      expect(attrs(line), line).toContain('httponly');
      expect(attrs(line).some((a) => a === 'samesite=lax' || a === 'samesite=strict'), line).toBe(true);
      expect(attrs(line), line).toContain('path=/');
      if (scheme === 'https') {
        expect(attrs(line), line).toContain('secure');
        expect(line.startsWith(prefix), line).toBe(true);
        expect(attrs(line).some((a) => a.startsWith('domain=')), line).toBe(false);
      } else {
        expect(attrs(line), line).not.toContain('secure');
      }
    }
  });

  it('the session cookie has no Max-Age or Expires, even for a trusted device', async () => {
    const lines = named(await allCookies(doorman), 'doorman_session');
    expect(lines).toHaveLength(1);
    expect(attrs(lines[0]!).some((a) => a.startsWith('max-age') || a.startsWith('expires'))).toBe(false);
  });

  it('the device cookie lives about 400 days and the pending cookie outlives the code', async () => {
    const lines = await allCookies(doorman);
    const device = named(lines, 'doorman_device')[0]!;
    expect(attrs(device)).toContain(`max-age=${400 * 24 * 3600}`);
    const pending = named(lines, 'doorman_pending')[0]!;
    const maxAge = Number(attrs(pending).find((a) => a.startsWith('max-age='))!.slice(8));
    expect(maxAge).toBeGreaterThan(15 * 60);
    expect(maxAge).toBeLessThanOrEqual(60 * 60);
  });

  it('tokens are opaque, at least 128 bits, and only their SHA-256 is stored', async () => {
    const lines = await allCookies(doorman);
    const values = ['doorman_device', 'doorman_session', 'doorman_pending'].map((n) => named(lines, n)[0]!.split(';')[0]!.split('=')[1]!);
    const db = doorman.doorman.database.db;
    const stored = JSON.stringify([
      await db.selectFrom('devices').selectAll().execute(),
      await db.selectFrom('sessions').selectAll().execute(),
      await db.selectFrom('challenges').selectAll().execute(),
    ]);
    for (const value of values) {
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(stored.includes(value)).toBe(false);
    }
  });
});
