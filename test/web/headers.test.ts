// Security headers: pages get helmet's full set, JSON under /api/ the REST set; nothing is cached
// but the static assets; HSTS only on an https public URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoorman, type Running } from '../helpers/harness.js';
import { SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await new SmtpSink().start();
});
afterAll(async () => sink?.stop());

describe.each([
  ['http', 'http://localhost:3000', false],
  ['https', 'https://doorman.example', true],
])('on an %s public URL', (_scheme, publicUrl, secure) => {
  let doorman: Running;
  beforeAll(async () => {
    doorman = await startDoorman({ DOORMAN_SMTP_URL: sink.url, DOORMAN_PUBLIC_URL: publicUrl });
  });
  afterAll(async () => doorman?.close());

  it('pages carry a strict content security policy, framing refused, and are not cached', async () => {
    const page = await doorman.browser().get('/login');
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp.includes('upgrade-insecure-requests')).toBe(secure);
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('same-origin');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-powered-by')).toBeNull();
    expect(page.headers.has('strict-transport-security')).toBe(secure);
  });

  it('API answers, signed in or refused, are never cached, rendered or framed', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const browser = doorman.browser();
    const refused = await browser.get('/api/v1/session');
    expect(refused.status).toBe(401);
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
    const signedIn = await browser.get('/api/v1/session');
    expect(signedIn.status).toBe(200);
    for (const reply of [refused, signedIn]) {
      expect(reply.headers.get('cache-control')).toBe('no-store');
      expect(reply.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      expect(reply.headers.get('x-frame-options')).toBe('DENY');
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.headers.has('strict-transport-security')).toBe(secure);
    }
  });

  it('static assets may be cached and still carry the security headers', async () => {
    const css = await doorman.browser().get('/assets/doorman.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(css.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
