// Configuration: defaults from DESIGN.md, precise errors naming the variable, production refuses insecure defaults.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EUROPEAN_CALLING_CODES, loadConfig, unknownSettings } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'doorman-config-'));
const base = { DOORMAN_DATABASE_URL: join(dir, 'doorman.sqlite') };

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      codeTtlSeconds: 900,
      resendCooldownSeconds: 60,
      codeLength: 6,
      maxCodeAttempts: 5,
      trustedDeviceDays: 30,
      smtpUrl: undefined,
      trustProxy: undefined,
      secureCookies: false,
    });
    expect(config.publicUrl.toString()).toBe('http://localhost:3000/');
    expect(config.smsCountries).toContain('48');
    expect(config.smsCountries).toContain('44');
    expect(config.smsCountries).toContain('380');
    expect(config.smsCountries).not.toContain('1');
  });

  it('generates a secret once, keeps it in the data folder, readable by the owner only', () => {
    const first = loadConfig(base).secret;
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig(base).secret).toBe(first);
    expect(readFileSync(join(dir, 'secret'), 'utf8').trim()).toBe(first);
    expect(statSync(join(dir, 'secret')).mode & 0o077).toBe(0);
  });

  it.each([
    ['DOORMAN_PORT', 'abc'],
    ['DOORMAN_PORT', '70000'],
    ['DOORMAN_PUBLIC_URL', 'ftp://x'],
    ['DOORMAN_CODE_LENGTH', '5'],
    ['DOORMAN_CODE_LENGTH', '11'],
    ['DOORMAN_CODE_TTL_SECONDS', '-1'],
    ['DOORMAN_MAX_CODE_ATTEMPTS', '0'],
    ['DOORMAN_TRUSTED_DEVICE_DAYS', '400'],
    ['DOORMAN_SECRET', 'short'],
    ['DOORMAN_SECRET', ' '.repeat(40)],
    ['DOORMAN_SECRET', 'a'.repeat(64)],
    ['DOORMAN_SECRET', 'abababababababababababababababababab'],
    ['DOORMAN_ADMIN_TOKEN', ' '.repeat(30)],
    ['DOORMAN_ADMIN_TOKEN', 'x'.repeat(30)],
    ['DOORMAN_SMS_SIGNING_KEY', 'k'.repeat(40)],
    ['DOORMAN_SMTP_URL', 'http://mail'],
    ['DOORMAN_SMTP_URL', 'smtp://'],
    ['DOORMAN_SMTP_URL', 'smtp:mail'],
    ['DOORMAN_SMS_URL', 'smpp://'],
    ['DOORMAN_PUBLIC_URL', 'https://id.example/auth'],
    ['DOORMAN_PUBLIC_URL', 'https://id.example/?next=x'],
    ['DOORMAN_PUBLIC_URL', 'https://user:pw@id.example'],
    ['DOORMAN_PUBLIC_URL', 'https://'],
    ['DOORMAN_SMS_COUNTRIES', 'PL,DE'],
    ['DOORMAN_SMS_COUNTRIES', '48,999'],
    ['DOORMAN_MAIL_FROM', 'a@b.c\nBcc: x@y.z'],
    ['DOORMAN_MAIL_FROM', 'notanemail'],
    ['DOORMAN_MAIL_FROM', 'Doorman no-reply@id.example'],
    ['DOORMAN_DATABASE_URL', 'mysql://db/doorman'],
    ['DOORMAN_TRUST_PROXY', 'notanip'],
    ['DOORMAN_TRUST_PROXY', '10.0.0.1, proxy.example'],
    ['DOORMAN_TRUST_PROXY', '10.0.0.0/33'],
  ])('%s=%j is refused with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(`^${name}`));
  });

  it.each([
    ['DOORMAN_SMTP_URL', 'smtp://mail.example:2525?tls=insecure'],
    ['DOORMAN_SMTP_URL', 'smtps://user:p%40ss@mail.example'],
    ['DOORMAN_SMS_URL', 'smpp://system:secret@sms.example:2775?source=Acme'],
    ['DOORMAN_PUBLIC_URL', 'https://id.example/'],
    ['DOORMAN_MAIL_FROM', 'no-reply@id.example'],
    ['DOORMAN_MAIL_FROM', 'Acme Sign-in <no-reply@id.example>'],
    ['DOORMAN_PUBLIC_URL', 'http://127.0.0.1:3000'],
  ])('%s=%j is accepted', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).not.toThrow();
  });

  it('the default SMS allow-list names only real calling codes', () => {
    expect(() => loadConfig({ ...base, DOORMAN_SMS_COUNTRIES: EUROPEAN_CALLING_CODES.join(',') })).not.toThrow();
  });

  it('names DOORMAN_ variables that are no setting (test-only ones aside)', () => {
    expect(unknownSettings({ DOORMAN_PORT: '1', DOORMAN_BOGUS: '1', DOORMAN_SMTP_ULR: 'x', DOORMAN_TEST_STORE: 'postgres', OTHER: '1' })).toEqual(['DOORMAN_BOGUS', 'DOORMAN_SMTP_ULR']);
  });

  it.each(['off', '2', '127.0.0.1', '10.0.0.0/8, ::1', 'loopback, 192.168.0.0/255.255.0.0', 'fd00::/8'])('DOORMAN_TRUST_PROXY=%j is accepted', (value) => {
    expect(loadConfig({ ...base, DOORMAN_TRUST_PROXY: value }).trustProxy).toBe(value);
  });

  it.each(['postgres://db/doorman', 'postgresql://db/doorman', 'sqlite:///tmp/x.sqlite', 'file:data/x.sqlite', 'data/x.sqlite'])('DOORMAN_DATABASE_URL=%j is accepted', (value) => {
    expect(loadConfig({ ...base, DOORMAN_DATABASE_URL: value }).databaseUrl).toBe(value);
  });

  it('the stricter ASVS/NIST code lifetime can be chosen', () => {
    expect(loadConfig({ ...base, DOORMAN_CODE_TTL_SECONDS: '600' }).codeTtlSeconds).toBe(600);
  });

  it('production refuses to start without a secret, an admin token and SMTP', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', DOORMAN_PUBLIC_URL: 'https://id.example' })).toThrow(
      /DOORMAN_SECRET, DOORMAN_ADMIN_TOKEN, DOORMAN_SMTP_URL/,
    );
    // However it is spelled.
    for (const spelling of ['Production', 'PRODUCTION', ' production ']) {
      expect(() => loadConfig({ ...base, NODE_ENV: spelling, DOORMAN_PUBLIC_URL: 'https://id.example' })).toThrow(/DOORMAN_SECRET/);
    }
    const complete = {
      ...base,
      NODE_ENV: 'production',
      DOORMAN_PUBLIC_URL: 'https://id.example',
      DOORMAN_SECRET: 'Vq3t0xYb8LmN2pRs5wZk7cHd9fJg1hAe4uIo6',
      DOORMAN_ADMIN_TOKEN: 'Qw8eRt5yUi2oPa7sDf4gHj1k',
      DOORMAN_SMTP_URL: 'smtp://mail.example:587',
    };
    expect(loadConfig(complete).production).toBe(true);
    expect(() => loadConfig({ ...complete, DOORMAN_PUBLIC_URL: 'http://id.example' })).toThrow(/https/);
  });

  it('a secret read from a file keeps no trailing newline', () => {
    expect(loadConfig({ ...base, DOORMAN_SECRET: 'Vq3t0xYb8LmN2pRs5wZk7cHd9fJg1hAe4uIo6\n' }).secret).toBe('Vq3t0xYb8LmN2pRs5wZk7cHd9fJg1hAe4uIo6');
  });

  it('https public URLs make cookies secure', () => {
    expect(loadConfig({ ...base, DOORMAN_PUBLIC_URL: 'https://id.example' }).secureCookies).toBe(true);
  });
});
