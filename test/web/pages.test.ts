// The account and company pages render for the right people, in English and Polish, and their forms act through CSRF-protected posts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, setCompanyPolicy } from '../../src/flows/provisioning.js';
import type { Browser } from '../helpers/httpClient.js';
import { startDoorman, type Running } from '../helpers/harness.js';

let doorman: Running;
beforeAll(async () => {
  doorman = await startDoorman();
});
afterAll(async () => doorman?.close());

async function signedIn(fields: Parameters<Running['addUser']>[0] = {}) {
  const user = await doorman.addUser({ twoFactor: false, ...fields });
  const browser = doorman.browser();
  expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
  return { user, browser };
}

async function submit(browser: Browser, pagePath: string, action: string, fields: Record<string, string> = {}) {
  const page = await browser.get(pagePath, { accept: 'text/html' });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const body = new URLSearchParams({ _csrf: csrf, ...fields }).toString();
  return browser.request('POST', action, body, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
}

describe('account page', () => {
  it('shows who is signed in, devices, sessions and sign-ins', async () => {
    const { user, browser } = await signedIn({ name: 'Jan <b>Kowalski</b>' });
    const page = await browser.get('/account');
    expect(page.status).toBe(200);
    expect(page.text).toContain(user.email);
    expect(page.text).toContain('Jan &lt;b&gt;Kowalski&lt;/b&gt;');
    expect(page.text).toContain('Chrome 126 on Linux');
    expect(page.text).toContain('(this device)');
    expect(page.text).toMatch(/Recent sign-ins/);
  });

  it('is in Polish when asked', async () => {
    const { browser } = await signedIn();
    const page = await browser.get('/account?lang=pl');
    expect(page.text).toContain('Twoje konto');
    expect(page.text).toContain('lang="pl"');
    expect(page.text).toContain('Chrome 126 w systemie Linux');
    expect(page.text).not.toContain('Chrome 126 on Linux');
    expect((await browser.get('/login', { 'accept-language': 'pl-PL,pl;q=0.9' })).status).toBe(303);
    expect((await doorman.browser().get('/login', { 'accept-language': 'pl-PL,pl;q=0.9' })).text).toContain('Zaloguj się');
  });

  it('revoking all devices from the page signs this browser out', async () => {
    const { browser } = await signedIn();
    const reply = await submit(browser, '/account', '/account/devices/revoke-all');
    expect(reply.status).toBe(303);
    expect((await browser.get('/api/v1/session')).status).toBe(401);
  });

  it('a form post without the CSRF token is refused with a page', async () => {
    const { browser } = await signedIn();
    const reply = await browser.request('POST', '/account/devices/revoke-all', '', { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
    expect(reply.status).toBe(403);
    expect(reply.headers.get('content-type')).toMatch(/text\/html/);
    // A heading of its own, the reason once, and a way back to the account (the browser is signed in).
    expect(reply.text).toContain('<h1>Not allowed</h1>');
    expect(reply.text.split('The form has expired').length - 1).toBe(1);
    expect(reply.text).toContain('href="/account"');
    expect((await browser.get('/api/v1/session')).status).toBe(200);
  });

  it('in Polish, names the reason of a failed sign-in in Polish, not as a code', async () => {
    const { user, browser } = await signedIn({ locale: 'pl' });
    await doorman.browser().post('/api/v1/login', { email: user.email, password: 'wrong-password-1' });
    const page = await browser.get('/account');
    expect(page.text).toContain('nieudane (błędne hasło)');
    expect(page.text).not.toContain('invalid_password');
  });

  it('a refused account form says why in the page language', async () => {
    const { browser } = await signedIn({ locale: 'pl' });
    const reply = await submit(browser, '/account', '/account/password', { currentPassword: 'x', newPassword: 'short' });
    expect(reply.status).toBe(400);
    expect(reply.text).toContain('Nowe hasło musi mieć co najmniej 10 znaków.');
  });
});

describe('company page', () => {
  it('renders for a verified representative and saves the policy', async () => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: 'Page Co' });
    const { browser } = await signedIn({ companyId, role: 'authorized', personalDataVerified: true });
    await signedIn({ companyId, name: 'Employee One' });
    const page = await browser.get('/company');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Employee One');
    expect(page.text).toContain('Sign-in log');
    const saved = await submit(browser, '/company', '/company/policy', { requireAuthorization: 'on', trustedDeviceDays: '14' });
    expect(saved.status).toBe(303);
    expect((await browser.get('/api/v1/company/policy')).body.policy).toMatchObject({ requireAuthorization: true, trustedDeviceDays: 14, smsAllowed: false });
    // A refused form leads back to the console, and changes nothing.
    const refused = await submit(browser, '/company', '/company/policy', { trustedDeviceDays: 'soon' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('href="/company"');
    expect((await browser.get('/api/v1/company/policy')).body.policy).toMatchObject({ requireAuthorization: true, trustedDeviceDays: 14 });
    // Lifting the requirement with a wrong password: refused (403), and back to the console too.
    const wrong = await submit(browser, '/company', '/company/policy', { trustedDeviceDays: '14', password: 'not-the-password' });
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain('href="/company"');
    expect((await browser.get('/api/v1/company/policy')).body.policy).toMatchObject({ requireAuthorization: true });
  });

  it('answers 403 to an employee and sends a visitor to log in', async () => {
    const { browser } = await signedIn();
    const refused = await browser.get('/company');
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('href="/account"');
    expect((await doorman.browser().get('/company')).status).toBe(303);
  });
});

/** Signs in with the password through the login form of a browser asking for English pages, up to the verify page. */
async function atVerifyPage(fields: Parameters<Running['addUser']>[0]) {
  const user = await doorman.addUser(fields);
  const browser = doorman.browser();
  const english = { 'accept-language': 'en-US,en;q=0.9' };
  const login = await browser.get('/login', { accept: 'text/html', ...english });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '';
  const body = new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password, next: '/account' }).toString();
  const posted = await browser.request('POST', '/login', body, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...english });
  expect(posted.status).toBe(303);
  const page = await browser.get('/login/verify?next=%2Faccount', { accept: 'text/html', ...english });
  expect(page.status).toBe(200);
  return { user, browser, page, english };
}

describe('verify page and its messages', () => {
  it('the logout form at the verify page forgets the sign-in waiting for its code', async () => {
    const { browser, page } = await atVerifyPage({});
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const reply = await browser.request('POST', '/logout', new URLSearchParams({ _csrf: csrf }).toString(), { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
    expect(reply.status).toBe(303);
    expect([...browser.cookies].some(([name]) => name.endsWith('doorman_pending'))).toBe(false);
    expect((await browser.get('/api/v1/login/challenge')).status).toBe(404);
  });

  it('a Polish account reads its errors in Polish, even in a browser asking for English', async () => {
    const { user, browser, page, english } = await atVerifyPage({ locale: 'pl' });
    expect(page.text).toContain('lang="pl"');
    const sent = doorman.doorman.mailbox!.list().find((m) => m.to === user.email)!;
    const code = /\b(\d{6})\b/.exec(sent.text)![1]!;
    const wrong = code === '000000' ? '111111' : '000000';
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: csrf, code: wrong, next: '/account' }).toString();
    // A refusal redirects back to the code page (post/redirect/get): reloading it posts nothing again.
    const posted = await browser.request('POST', '/login/verify', `${body}&trustDevice=on`, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...english });
    expect(posted.status).toBe(303);
    const location = posted.headers.get('location')!;
    expect(location).toMatch(/^\/login\/verify\?/);
    for (let reload = 0; reload < 3; reload++) {
      const refused = await browser.get(location, { accept: 'text/html', ...english });
      expect(refused.text).toContain('Kod jest nieprawidłowy. Pozostało prób: 4.');
      expect(refused.text).not.toContain('The code is not correct');
      // "Trust this device" stays ticked for the next try.
      expect(refused.text).toMatch(/name="trustDevice" value="on" checked/);
    }
    const resend = await browser.request('POST', '/login/verify/send', new URLSearchParams({ _csrf: csrf, channel: 'email', next: '/account' }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      ...english,
    });
    expect(resend.status).toBe(303);
    const waitPage = await browser.get(resend.headers.get('location')!, { accept: 'text/html', ...english });
    expect(waitPage.text).toMatch(/lang="pl"/);
    expect(waitPage.text).toMatch(/Poczekaj \d+ s przed ponownym wysłaniem kodu/);
    expect(waitPage.text).not.toContain('Please wait');
    // Without JavaScript the page reloads itself when the wait is over.
    expect(waitPage.text).toMatch(/<noscript><meta http-equiv="refresh" content="\d+"><\/noscript>/);
    // A link made elsewhere cannot pre-tick "Trust this device" or show a refusal: only the service's own signed redirect can.
    const crafted = await browser.get('/login/verify?failed=invalid_code&trust=1', { accept: 'text/html', ...english });
    expect(crafted.text).not.toContain('role="alert"');
    expect(crafted.text).not.toMatch(/name="trustDevice" value="on" checked/);
    const tampered = await browser.get(location.replace('failed=invalid_code', 'failed=rate_limited'), { accept: 'text/html', ...english });
    expect(tampered.text).not.toContain('role="alert"');
    // Words in the address never reach the page: only known error codes have a text.
    const forged = await browser.get('/login/verify?failed=you_have_been_hacked&reason=call_us', { accept: 'text/html', ...english });
    expect(forged.status).toBe(200);
    expect(forged.text).not.toContain('role="alert"');
    expect(forged.text.replace(/href="[^"]*"/g, '')).not.toMatch(/hacked|call_us/);
    expect(doorman.doorman.mailbox!.list().filter((m) => m.to === user.email)).toHaveLength(1);
  });

  it('a locked challenge is said once: by the page, not again by the refusal', async () => {
    const { browser, page, english } = await atVerifyPage({});
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    let location = '';
    for (let i = 0; i < 6; i++) {
      const posted = await browser.request('POST', '/login/verify', new URLSearchParams({ _csrf: csrf, code: '1', next: '/account' }).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        ...english,
      });
      location = posted.headers.get('location')!;
    }
    expect(location).toContain('failed=too_many_attempts');
    const locked = await browser.get(location, { accept: 'text/html', ...english });
    expect(locked.text.match(/Too many wrong codes/g)).toHaveLength(1);
    expect(locked.text).not.toContain('name="code"');
  });

  it('a login form refused for a malformed address gives the address back to correct', async () => {
    const browser = doorman.browser();
    const login = await browser.get('/login', { accept: 'text/html' });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: csrf, email: 'jan.kowalski@<b>acme', password: 'x' }).toString();
    const refused = await browser.request('POST', '/login', body, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('value="jan.kowalski@&lt;b&gt;acme"');
    expect(refused.text).not.toContain('<b>acme');
  });

  it('a wrong password on the login form is told in the language the visitor chose', async () => {
    const browser = doorman.browser();
    const login = await browser.get('/login?lang=pl', { accept: 'text/html', 'accept-language': 'en-US' });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: csrf, email: 'nobody@acme.example', password: 'wrong-password' }).toString();
    const refused = await browser.request('POST', '/login', body, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', 'accept-language': 'en-US' });
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('Nieprawidłowy e-mail lub hasło.');
  });

  it('the trust hint gives the company\'s shorter lifetime, and SMS refused by the company is not explained as a missing number', async () => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: `Short trust ${Math.random()}` });
    await setCompanyPolicy(doorman.doorman.ctx, companyId, { trustedDeviceDays: 14, smsAllowed: false });
    const { page } = await atVerifyPage({ companyId, phone: '+48 601 555 444' });
    expect(page.text).toContain('for 14 days');
    expect(page.text).not.toContain('for 30 days');
    expect(page.text).toContain('Codes cannot be sent by SMS to this account.');
    expect(page.text).not.toContain('Add a mobile phone number');
  });
});

describe('account authorization required by the company', () => {
  it('the account page says so and offers no switch', async () => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: `Required ${Math.random()}` });
    const { user, browser } = await signedIn({ companyId });
    await setCompanyPolicy(doorman.doorman.ctx, companyId, { requireAuthorization: true });
    // The session begun with the password alone has ended; the user signs in again, with a code.
    expect((await browser.get('/api/v1/session')).status).toBe(401);
    const login = await browser.post('/api/v1/login', { email: user.email, password: user.password });
    expect(login.body.status).toBe('verification_required');
    const codeMail = () => doorman.doorman.mailbox!.list().find((m) => m.to === user.email && /verification code/i.test(m.subject ?? ''));
    for (let i = 0; i < 50 && !codeMail(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const code = /^\s*(\d{6})\s*$/m.exec(codeMail()!.text)![1]!;
    expect((await browser.post('/api/v1/login/challenge/verify', { code })).status).toBe(200);
    const page = await browser.get('/account', { accept: 'text/html' });
    expect(page.text).toContain('On, required by your company');
    expect(page.text).not.toContain('name="enabled" value="true"');
    expect(page.text).not.toContain('name="enabled" value="false"');
  });
});

describe('where the login form leads', () => {
  it.each([
    ['/company?employee=abc', '/company?employee=abc'],
    ['/logout', '/account'],
    ['/api/v1/session', '/account'],
    ['/login/verify', '/account'],
    ['//evil.example/x', '/account'],
    ['/%61pi/v1/session', '/account'],
    ['/%2F%2Fevil.example', '/account'],
  ])('next=%j is kept as %j', async (next, kept) => {
    const page = await doorman.browser().get(`/login?next=${encodeURIComponent(next)}`, { accept: 'text/html' });
    expect(page.text).toContain(`name="next" value="${kept.replace(/&/g, '&amp;')}"`);
  });

  it('a visitor sent to log in from the company console comes back to the same view', async () => {
    const reply = await doorman.browser().get('/company?employee=abc', { accept: 'text/html' });
    expect(reply.status).toBe(303);
    expect(reply.headers.get('location')).toBe(`/login?next=${encodeURIComponent('/company?employee=abc')}`);
  });
});

describe('a challenge opened over the sending limit', () => {
  it('the verify page says no code was sent instead of asking for one', async () => {
    const local = await startDoorman({ DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR: '1' });
    try {
      const user = await local.addUser();
      const first = local.browser();
      expect((await first.post('/api/v1/login', { email: user.email, password: user.password })).body.status).toBe('verification_required');
      const second = local.browser();
      const login = await second.post('/api/v1/login', { email: user.email, password: user.password });
      expect(login.body.challenge.channels.find((c: any) => c.channel === 'email').lastSentAt).toBeUndefined();
      const page = await second.get('/login/verify', { accept: 'text/html', 'accept-language': 'en' });
      expect(page.text).toContain('No code has been sent yet');
      expect(page.text).not.toContain('Enter the code we sent you');
      const sentPage = await first.get('/login/verify', { accept: 'text/html', 'accept-language': 'en' });
      expect(sentPage.text).toContain('Enter the code we sent you');
    } finally {
      await local.close();
    }
  });
});

describe('"This wasn\'t me" pages', () => {
  it('speak the account\'s language in a browser asking for English: the question, the result and the used link', async () => {
    const { user } = await signedIn({ locale: 'pl' });
    // The dispatcher delivers in the background: wait for the new-browser notice.
    const notice = () => doorman.doorman.mailbox!.list().find((m) => m.to === user.email && /\/report\//.test(m.text));
    for (let i = 0; i < 100 && !notice(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const mail = notice()!;
    const path = /\/report\/[A-Za-z0-9_.-]+/.exec(mail.text)![0];
    const browser = doorman.browser();
    const english = { accept: 'text/html', 'accept-language': 'en-US,en;q=0.9' };
    const question = await browser.get(path, english);
    expect(question.text).toContain('lang="pl"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(question.text)![1]!;
    const done = await browser.request('POST', path, new URLSearchParams({ _csrf: csrf }).toString(), { ...english, 'content-type': 'application/x-www-form-urlencoded' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Dziękujemy, przeglądarka została zablokowana');
    const used = await browser.get(path, english);
    expect(used.status).toBe(410);
    expect(used.text).toContain('Ten link został już użyty.');
  });
});

describe('company console in Polish', () => {
  it('names roles in Polish, shows the first page for a page number out of range and explains a bad date filter', async () => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: 'Konsola' });
    const { browser } = await signedIn({ companyId, role: 'authorized', personalDataVerified: true, locale: 'pl' });
    const page = await browser.get('/company', { accept: 'text/html' });
    expect(page.text).toContain('osoba upoważniona');
    expect(page.text).not.toMatch(/<td>authorized<\/td>/);
    for (const query of ['page=-1', 'page=abc', 'epage=0&pageSize=100000']) {
      expect((await browser.get(`/company?${query}`, { accept: 'text/html' })).status, query).toBe(200);
    }
    for (const from of ['2026-13-45', '1', '2026-02-30']) {
      const filtered = await browser.get(`/company?from=${from}`, { accept: 'text/html' });
      expect(filtered.status, from).toBe(400);
      expect(filtered.text).toContain('Filtr jest nieprawidłowy');
      expect(filtered.text).not.toContain('ISO 8601');
    }
    expect((await browser.get('/company?from=2026-11-01&to=2026-11-29T08:00Z', { accept: 'text/html' })).status).toBe(200);
  });
});

describe('unknown addresses', () => {
  it('a browser gets a page, the API and other clients get JSON; /favicon.ico answers 204', async () => {
    const browser = doorman.browser();
    const page = await browser.get('/no-such-page', { accept: 'text/html' });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text).toContain('<h1>Page not found</h1>');
    const api = await browser.get('/api/v1/no-such-call', { accept: 'text/html' });
    expect(api.status).toBe(404);
    expect(api.body).toEqual({ error: 'not_found', message: 'Not found.' });
    expect((await browser.get('/favicon.ico')).status).toBe(204);
  });

  it.each(['//x//evil.example/', '//[', '//a:99999/x', '/\\evil.example/'])('%j answers 404 with language links that stay on this site', async (path) => {
    const page = await doorman.browser().get(path, { accept: 'text/html' });
    expect(page.status).toBe(404);
    const links = [...page.text.matchAll(/hreflang="(?:en|pl)"|href="([^"]*)" hreflang/g)].map((m) => m[1]).filter(Boolean);
    expect(links).toHaveLength(2);
    for (const href of links) expect(href).toMatch(/^\/(?![/\\])/);
  });
});
