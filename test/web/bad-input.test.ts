// Bad input gets a clear 4xx JSON error and changes nothing: malformed JSON, oversized bodies, missing fields, odd Unicode, header injection.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startDoorman, type Running } from '../helpers/harness.js';

let doorman: Running;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  doorman = await startDoorman();
});
afterAll(async () => doorman?.close());

async function counts() {
  const db = doorman.doorman.database.db;
  const count = async (table: 'users' | 'companies' | 'challenges' | 'sessions' | 'outbox' | 'devices') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { users: await count('users'), companies: await count('companies'), challenges: await count('challenges'), sessions: await count('sessions'), outbox: await count('outbox'), devices: await count('devices') };
}

function expectClientError(reply: { status: number; body: any }, status: number, error?: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(typeof reply.body.error).toBe('string');
  expect(reply.body.error).toMatch(/^[a-z_]+$/);
  expect(typeof reply.body.message).toBe('string');
  if (error) expect(reply.body.error).toBe(error);
}

describe('JSON API bad input', () => {
  const cases: [string, string, string, unknown, Record<string, string>, number, string | undefined][] = [
    ['malformed JSON on login', 'POST', '/api/v1/login', '{"email": "a@b.c", ', {}, 400, 'malformed_json'],
    ['a JSON array on login', 'POST', '/api/v1/login', '[1,2]', {}, 400, 'invalid_request'],
    ['a JSON string on login', 'POST', '/api/v1/login', '"hello"', {}, 400, 'invalid_request'],
    ['missing password', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example' }), {}, 400, 'invalid_request'],
    ['password of the wrong type', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 12 }), {}, 400, 'invalid_request'],
    ['a 10 kB e-mail', 'POST', '/api/v1/login', JSON.stringify({ email: `${'a'.repeat(10_000)}@acme.example`, password: 'x' }), {}, 400, 'invalid_request'],
    ['CR/LF in the e-mail', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example\r\nBcc: x@evil.example', password: 'x' }), {}, 400, 'invalid_request'],
    ['an oversized body', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x'.repeat(100_000) }), {}, 413, 'payload_too_large'],
    ['a form body on the JSON API', 'POST', '/api/v1/login', 'email=a%40b.c&password=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    ['text/plain on the JSON API', 'POST', '/api/v1/login', '{"email":"a@b.c","password":"x"}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['a prototype-poisoning body', 'POST', '/api/v1/login', '{"__proto__": {"admin": true}, "email": "a@acme.example", "password": "x"}', {}, 400, undefined],
    ['a foreign Origin', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x' }), { origin: 'https://evil.example' }, 403, 'csrf_failed'],
    ['a cross-site fetch without Origin', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x' }), { 'sec-fetch-site': 'cross-site' }, 403, 'csrf_failed'],
    ['an unknown channel', 'POST', '/api/v1/login/challenge/send', JSON.stringify({ channel: 'fax' }), {}, 400, 'invalid_request'],
    ['a huge code', 'POST', '/api/v1/login/challenge/verify', JSON.stringify({ code: '1'.repeat(1000) }), {}, 400, 'invalid_request'],
    // PostgreSQL cannot hold a NUL in text: refused up front, the same on both stores.
    ['a NUL in a path id', 'PATCH', '/api/v1/admin/users/%00', JSON.stringify({ name: 'X' }), admin, 400, 'invalid_request'],
    ['a NUL in a query parameter', 'GET', '/api/v1/company/sign-ins?employee=a%00b', undefined, {}, 400, 'invalid_request'],
    ['a NUL in a JSON field', 'POST', '/api/v1/admin/users', JSON.stringify({ email: 'nul@acme.example', password: 'a-long-password-1', name: 'N', companyId: '\u0000', role: 'employee' }), admin, 400, 'invalid_request'],
    ['a NUL in a JSON key', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x', 'k\u0000': 1 }), {}, 400, 'invalid_request'],
    ['a NUL in a password', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x\u0000y' }), {}, 400, 'invalid_request'],
    ['a UTF-16 charset on a JSON body', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x' }), { 'content-type': 'application/json; charset=utf-16' }, 415, 'unsupported_media_type'],
    ['a gzip Content-Encoding on a plain body', 'POST', '/api/v1/login', JSON.stringify({ email: 'a@acme.example', password: 'x' }), { 'content-encoding': 'gzip' }, 415, 'unsupported_media_type'],
    ['an unknown route', 'GET', '/api/v1/nothing-here', undefined, {}, 404, 'not_found'],
    ['a broken %-escape in the path', 'GET', '/api/v1/me/devices/%E0%A4%A', undefined, {}, 400, 'bad_url'],
    ['an overlong path segment', 'DELETE', `/api/v1/me/devices/${'a'.repeat(300)}`, undefined, {}, 414, 'uri_too_long'],
  ];

  it.each(cases)('%s → %s %s answers a 4xx and changes nothing', async (_name, method, path, body, headers, status, error) => {
    const before = await counts();
    const reply = await doorman.browser().request(method, path, body, headers);
    expectClientError(reply, status, error);
    expect(await counts()).toEqual(before);
  });
});

describe('admin API bad input', () => {
  it('refuses calls without the bearer token', async () => {
    const reply = await doorman.browser().post('/api/v1/admin/companies', { name: 'X' });
    expectClientError(reply, 401, 'unauthenticated');
    const wrong = await doorman.browser().post('/api/v1/admin/companies', { name: 'X' }, { authorization: 'Bearer wrong' });
    expectClientError(wrong, 401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer /);
    // The scheme is case-insensitive.
    expect((await doorman.browser().post('/api/v1/admin/companies', { name: 'Lower Case Scheme' }, { authorization: `bearer ${ADMIN_TOKEN}` })).status).toBe(201);
  });

  const userCases: [string, Record<string, unknown>][] = [
    ['CR/LF in the name', { name: 'Eve\r\nBcc: x@evil.example' }],
    ['a bidi override in the name', { name: 'Eve\u202Egnp.exe' }],
    ['an empty name', { name: '   ' }],
    ['a 10 kB e-mail', { email: `${'a'.repeat(10_000)}@acme.example` }],
    ['header injection in the e-mail', { email: 'eve@acme.example\nBcc: x@evil.example' }],
    ['a full-width comma in the e-mail (two addresses once normalized)', { email: 'eve\uff0cmallory@acme.example' }],
    ['full-width angle brackets in the e-mail', { email: '\uff1ceve@acme.example\uff1e' }],
    ['two dots in a row in the domain', { email: 'eve@acme..example' }],
    ['a domain label starting with a hyphen', { email: 'eve@-acme-.example' }],
    ['a trailing dot after the domain', { email: 'eve@acme.example.' }],
    ['a one-letter top-level domain', { email: 'eve@b.c' }],
    ['a domain without a dot', { email: 'eve@localhost' }],
    ['an underscore in the domain', { email: 'eve@ac_me.example' }],
    ['a local part starting with a dot', { email: '.eve@acme.example' }],
    ['two dots in a row in the local part', { email: 'e..ve@acme.example' }],
    ['a 65-character local part', { email: `${'e'.repeat(65)}@acme.example` }],
    ['a short password', { password: 'short' }],
    ['a lone surrogate in the password', { password: 'long-enough-\ud800' }],
    ['an unknown role', { role: 'root' }],
    ['a malformed phone', { phone: '12345' }],
    ['a landline', { phone: '+48 22 123 45 67' }],
    ['a phone with a line break and more', { phone: '+48 601 234 567\r\nX' }],
    ['a phone with letters', { phone: '+48 601 234 567 ext' }],
    ['an unknown locale', { locale: 'xx' }],
    ['twoFactor as a string', { twoFactor: 'yes' }],
  ];

  it.each(userCases)('creating a user with %s answers 400 and creates nothing', async (_name, override) => {
    const before = await counts();
    const reply = await doorman.browser().post(
      '/api/v1/admin/users',
      { email: 'new@acme.example', password: 'a-long-password', name: 'New User', companyId: doorman.companyId, role: 'employee', ...override },
      admin,
    );
    expectClientError(reply, 400, 'invalid_request');
    expect(await counts()).toEqual(before);
  });

  it('an internationalized domain names one mailbox in either form: the second account is refused, and either form signs in', async () => {
    const base = { password: 'a-long-password', name: 'Idn User', companyId: doorman.companyId, role: 'employee', twoFactor: false };
    expect((await doorman.browser().post('/api/v1/admin/users', { ...base, email: 'idn@straße-bücher.example' }, admin)).status).toBe(201);
    expectClientError(await doorman.browser().post('/api/v1/admin/users', { ...base, email: 'idn@xn--strae-bcher-y6a49a.example' }, admin), 409, 'email_taken');
    for (const email of ['idn@straße-bücher.example', 'IDN@XN--STRAE-BCHER-Y6A49A.example']) {
      expect((await doorman.browser().post('/api/v1/login', { email, password: 'a-long-password' })).body.status, email).toBe('authenticated');
    }
  });

  it.each(['o\'brien+tag@mail.acme.example', 'łukasz@acme.example', 'user@bücher.example', 'x@acme.co.uk'])(
    'creating a user with the address %j is accepted; a PATCH to an undeliverable one is refused and changes nothing',
    async (email) => {
      const created = await doorman.browser().post('/api/v1/admin/users', { email, password: 'a-long-password', name: 'New User', companyId: doorman.companyId, role: 'employee' }, admin);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expectClientError(await doorman.browser().request('PATCH', `/api/v1/admin/users/${created.body.id}`, { email: 'new@acme..example' }, admin), 400, 'invalid_request');
      const row = await doorman.doorman.database.db.selectFrom('users').select('email').where('id', '=', created.body.id).executeTakeFirstOrThrow();
      expect(row.email).toBe(email);
    },
  );

  it.each(['Zoë 🚚 👨\u200d👩\u200d👧', 'می\u200cخواهم', 'Ana-María O\'Neill'])('a name such as %j, with joiners inside words, is accepted', async (name) => {
    const created = await doorman.browser().post('/api/v1/admin/users', { email: `n${Math.random().toString(36).slice(2)}@acme.example`, password: 'a-long-password', name, companyId: doorman.companyId, role: 'employee' }, admin);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  it.each(['\u200dEve', 'Eve \u200c', 'Eve\u200bAdmin'])('a name with an invisible character standing alone (%j) is refused', async (name) => {
    const created = await doorman.browser().post('/api/v1/admin/users', { email: `n${Math.random().toString(36).slice(2)}@acme.example`, password: 'a-long-password', name, companyId: doorman.companyId, role: 'employee' }, admin);
    expectClientError(created, 400, 'invalid_request');
  });

  it('an account whose address fails the newer checks still signs in (sign-in checks only the shape)', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    await doorman.doorman.database.db.updateTable('users').set({ email: 'old@legacy.example.', emailNormalized: 'old@legacy.example.' }).where('id', '=', user.id).execute();
    expect((await doorman.browser().post('/api/v1/login', { email: 'old@legacy.example.', password: user.password })).body.status).toBe('authenticated');
  });

  it('an unknown company answers 404, a taken e-mail 409', async () => {
    const user = await doorman.addUser();
    const base = { password: 'a-long-password', name: 'New User', role: 'employee' };
    expectClientError(await doorman.browser().post('/api/v1/admin/users', { ...base, email: 'x@acme.example', companyId: 'nope' }, admin), 404, 'company_not_found');
    expectClientError(await doorman.browser().post('/api/v1/admin/users', { ...base, email: user.email.toUpperCase(), companyId: doorman.companyId }, admin), 409, 'email_taken');
    // A look-alike in full-width letters is the same address, not a second account.
    const fullWidth = user.email.replace(/^./, (c) => String.fromCodePoint(c.codePointAt(0)! - 0x21 + 0xff01));
    expect(fullWidth).not.toBe(user.email);
    expectClientError(await doorman.browser().post('/api/v1/admin/users', { ...base, email: fullWidth, companyId: doorman.companyId }, admin), 409, 'email_taken');
  });

  it('a password hashed as typed before passwords were normalized still signs in', async () => {
    const password = 'pass\u00b2\u00b5-long-enough';
    expect(password.normalize('NFKC')).not.toBe(password);
    const user = await doorman.addUser({ twoFactor: false });
    const argon2 = (await import('argon2')).default;
    const legacy = await argon2.hash(password, { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 });
    await doorman.doorman.database.db.updateTable('users').set({ passwordHash: legacy }).where('id', '=', user.id).execute();
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password })).body.status).toBe('authenticated');
    expect((await doorman.browser().post('/api/v1/login', { email: user.email, password: `${password}x` })).status).toBe(401);
  });

  it('a password is the same password whether its letters arrive composed (NFC) or decomposed (NFD)', async () => {
    const password = 'zażółć gęślą jaźń 2026'.normalize('NFC');
    const user = await doorman.addUser({ password, twoFactor: false });
    expect(password.normalize('NFD')).not.toBe(password);
    const login = await doorman.browser().post('/api/v1/login', { email: user.email, password: password.normalize('NFD') });
    expect(login.body.status).toBe('authenticated');
  });

  it('creates a company and a user, and updates the user', async () => {
    const company = await doorman.browser().post('/api/v1/admin/companies', { name: 'Beta Freight' }, admin);
    expect(company.status).toBe(201);
    const created = await doorman.browser().post(
      '/api/v1/admin/users',
      { email: 'Rep@Beta.example', password: 'a-long-password', name: 'Rep', companyId: company.body.id, role: 'authorized', phone: '+48 601 234 567', locale: 'pl', twoFactor: false, personalDataVerified: true },
      admin,
    );
    expect(created.status).toBe(201);
    const patched = await doorman.browser().request('PATCH', `/api/v1/admin/users/${created.body.id}`, { twoFactor: true }, admin);
    expect(patched.status).toBe(200);
    const login = await doorman.browser().post('/api/v1/login', { email: 'rep@beta.example', password: 'a-long-password' });
    expect(login.body.status).toBe('verification_required');
    expect(login.body.challenge.channels.find((c: any) => c.channel === 'sms')).toMatchObject({ available: true, destination: '+48 *** *** 567' });
    expectClientError(await doorman.browser().request('PATCH', '/api/v1/admin/users/nope', { twoFactor: true }, admin), 404, 'user_not_found');
    expectClientError(await doorman.browser().request('PATCH', `/api/v1/admin/users/${created.body.id}`, { unknown: 1 }, admin), 400, 'invalid_request');
  });
});

describe('admin company policy', () => {
  it('switches authorization on for a whole company and checks the lifetime bound', async () => {
    const company = await doorman.browser().post('/api/v1/admin/companies', { name: 'Delta' }, admin);
    const reply = await doorman.browser().request('PATCH', `/api/v1/admin/companies/${company.body.id}`, { requireAuthorization: true, trustedDeviceDays: 10 }, admin);
    expect(reply.status).toBe(200);
    expect(reply.body.policy).toMatchObject({ requireAuthorization: true, trustedDeviceDays: 10 });
    expectClientError(await doorman.browser().request('PATCH', `/api/v1/admin/companies/${company.body.id}`, { trustedDeviceDays: 90 }, admin), 400);
    expectClientError(await doorman.browser().request('PATCH', '/api/v1/admin/companies/nope', { smsAllowed: false }, admin), 404);
    const user = await doorman.browser().post(
      '/api/v1/admin/users',
      { email: 'delta@delta.example', password: 'a-long-password', name: 'D', companyId: company.body.id, role: 'employee', twoFactor: false },
      admin,
    );
    expect(user.status).toBe(201);
    expect((await doorman.browser().post('/api/v1/login', { email: 'delta@delta.example', password: 'a-long-password' })).body.status).toBe('verification_required');
  });
});

describe('forms', () => {
  it('a login form without a CSRF token is refused and signs nobody in', async () => {
    const user = await doorman.addUser({ twoFactor: false });
    const before = await counts();
    const reply = await doorman.browser().request('POST', '/login', `email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(user.password)}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(reply.status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it.each(['/login', '/company/policy', '/account/password'])('a NUL in a form field posted to %s answers 400 before anything runs', async (path) => {
    const before = await counts();
    const reply = await doorman.browser().request('POST', path, 'email=a%00b%40acme.example&password=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expectClientError(reply, 400, 'invalid_request');
    expect(await counts()).toEqual(before);
  });
});

describe('bad input from a browser', () => {
  it.each(['/%00', '/account%00', '/login?x=%00', '/login?email=a%00'])('a NUL in %s answers a 400 page, with a cookie or without', async (path) => {
    for (const cookie of [undefined, 'doorman_lang=pl; doorman_session=x']) {
      const reply = await doorman.browser().request('GET', path, undefined, { accept: 'text/html', ...(cookie ? { cookie } : {}) });
      expect(reply.status, path).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(/text\/html/);
      expect(reply.text).not.toMatch(/Cannot read|properties of|statusCode/);
    }
  });
});

/** Sends bytes as they are and reads the whole answer (the server closes the connection after an error). */
function rawRequest(baseUrl: string, bytes: string): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(bytes));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('requests the HTTP parser refuses', () => {
  const cases: [string, string, number, string][] = [
    ['a control byte in a header', 'GET /api/v1/session HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n', 400, 'bad_request'],
    ['Content-Length with Transfer-Encoding', 'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request'],
    ['headers of 20 kB', `GET /api/v1/session HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ];

  it.each(cases)('%s answers %s with {error, message}', async (_name, bytes, status, error) => {
    const answer = await rawRequest(doorman.baseUrl, bytes);
    expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({ error, message: expect.any(String) });
  });
});
