// Turns the DOORMAN_* environment into a validated, typed configuration with every default in one place.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { getCountries, getCountryCallingCode } from 'libphonenumber-js';
import { z } from 'zod';

// Product rules (DESIGN.md §1). Units are in the names.
export const CODE_TTL_SECONDS = 15 * 60; // platform rule; ASVS 4.0.3 2.7.2 says 10 min, see README
export const RESEND_COOLDOWN_SECONDS = 60;
export const CODE_LENGTH = 6;
export const CODE_LENGTH_MIN = 6;
export const CODE_LENGTH_MAX = 10;
export const MAX_CODE_ATTEMPTS = 5;
export const TRUSTED_DEVICE_DAYS = 30;
export const ACCOUNT_FAILURES_PER_HOUR = 10; // wrong codes per account across challenges
export const ACCOUNT_LOCK_SECONDS = 60 * 60;
export const SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60;
export const SESSION_IDLE_SECONDS = 2 * 60 * 60;
export const DEVICE_COOKIE_SECONDS = 400 * 24 * 60 * 60; // RFC 6265bis caps cookie lifetime at 400 days
export const PENDING_COOKIE_EXTRA_SECONDS = 15 * 60; // pending cookie outlives the code to tell "expired" from "none"
export const PASSWORD_MAX_LENGTH = 1024;

// Rate limits (per IP and per account); "leave room for honest use", DESIGN.md §2.
export const LOGIN_ATTEMPTS_PER_IP_PER_MINUTE = 30;
export const LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES = 10;
export const CODE_FAILURES_PER_IP_PER_MINUTE = 30;
export const SENDS_PER_IP_PER_HOUR = 30;

// Code sends (anti-pumping): per account and channel, per phone number, per IP.
export const EMAIL_SENDS_PER_ACCOUNT_PER_HOUR = 10;
export const EMAIL_SENDS_PER_ACCOUNT_PER_DAY = 30;
export const SMS_SENDS_PER_ACCOUNT_PER_HOUR = 5;
export const SMS_SENDS_PER_ACCOUNT_PER_DAY = 10;
export const SMS_SENDS_PER_NUMBER_PER_DAY = 10;
export const SMS_SENDS_PER_IP_PER_HOUR = 20;

// Outbox delivery.
export const OUTBOX_POLL_MS = 1000;
export const OUTBOX_RETRY_BASE_MS = 2000;
export const OUTBOX_RETRY_MAX_MS = 10 * 60 * 1000;

// Representatives' daily digest of new-device sign-ins goes out at this hour (UTC).
export const DIGEST_HOUR_UTC = 7;

// Argon2id, OWASP minimum (m=19 MiB, t=2, p=1).
export const ARGON2_MEMORY_KIB = 19 * 1024;
export const ARGON2_TIME_COST = 2;
export const ARGON2_PARALLELISM = 1;

// Default SMS allow-list: European calling codes (EU/EEA, UK, CH, UA).
export const EUROPEAN_CALLING_CODES = [
  '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '351', '352', '353', '354', '356', '357', '358', '359', '370', '371', '372', '380', '385',
  '386', '420', '421', '423',
];

export const DEFAULT_DATA_DIR = './data';

export interface Config {
  production: boolean;
  databaseUrl: string;
  dataDir: string;
  port: number;
  host: string;
  publicUrl: URL;
  secureCookies: boolean;
  secret: string;
  adminToken: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  smsUrl: string | undefined;
  smsSigningKey: string | undefined;
  codeTtlSeconds: number;
  resendCooldownSeconds: number;
  codeLength: number;
  maxCodeAttempts: number;
  trustedDeviceDays: number;
  smsCountries: string[];
  trustProxy: string | undefined;
  logLevel: string;
  rateLimits: {
    loginPerIpPerMinute: number;
    loginFailuresPerAccount: number;
    codeFailuresPerIpPerMinute: number;
    sendsPerIpPerHour: number;
    emailPerAccountPerHour: number;
    emailPerAccountPerDay: number;
    smsPerAccountPerHour: number;
    smsPerAccountPerDay: number;
    smsPerNumberPerDay: number;
    smsPerIpPerHour: number;
  };
  outbox: { pollMs: number; retryBaseMs: number; retryMaxMs: number };
  digestHourUtc: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** A URL with one of the protocols and a host; `check` says what else is wrong with it, if anything. */
const url = (protocols: string[], check: (parsed: URL) => string | undefined = () => undefined) =>
  z.string().superRefine((value, issue) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      parsed = new URL('invalid:');
    }
    const problem = !protocols.includes(parsed.protocol) || !parsed.hostname ? `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} and naming a host` : check(parsed);
    if (problem) issue.addIssue({ code: 'custom', message: problem });
  });

/**
 * A secret must be random: codes and links are derived from DOORMAN_SECRET, and the admin token opens
 * the admin API. Blanks or a character repeated would pass a length check and be guessed at once.
 */
const secretField = (min: number) =>
  z
    .string()
    // A trailing newline (a secret file mounted as a variable) is not part of the secret.
    .trim()
    .min(min, `must be at least ${min} characters`)
    .refine((value) => !/\s/.test(value) && new Set(value).size >= 8, 'must be random: no spaces, at least 8 different characters (for example from `openssl rand -base64 48`)');

const fields = {
  DOORMAN_DATABASE_URL: z
    .string()
    .min(1)
    .refine((value) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^(postgres(ql)?|sqlite|file):\/\//i.test(value), 'must be postgres://…, or an SQLite file path'),
  DOORMAN_PORT: int(0, 65535),
  DOORMAN_HOST: z.string().min(1),
  // Pages, cookies (`__Host-`, Path=/) and links all live at the root of one origin.
  DOORMAN_PUBLIC_URL: url(['http:', 'https:'], (parsed) =>
    parsed.pathname !== '/' || parsed.search || parsed.hash || parsed.username || parsed.password ? 'must be an origin only, such as https://id.example.com (no path, query or user)' : undefined,
  ),
  DOORMAN_SECRET: secretField(32),
  DOORMAN_ADMIN_TOKEN: secretField(24),
  DOORMAN_SMTP_URL: url(['smtp:', 'smtps:']),
  DOORMAN_MAIL_FROM: z
    .string()
    .min(3)
    .regex(/^[^\r\n]+$/, 'must be one line')
    // An address, bare or as `Name <address>`: mail servers refuse a sender without one.
    .regex(/^(?:[^<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'must be an address, such as no-reply@id.example.com or "Doorman <no-reply@id.example.com>"'),
  DOORMAN_SMS_URL: url(['smpp:', 'https:', 'http:']),
  DOORMAN_SMS_SIGNING_KEY: secretField(32),
  DOORMAN_CODE_TTL_SECONDS: int(60, 24 * 60 * 60),
  DOORMAN_RESEND_COOLDOWN_SECONDS: int(0, 60 * 60),
  DOORMAN_CODE_LENGTH: int(CODE_LENGTH_MIN, CODE_LENGTH_MAX),
  DOORMAN_MAX_CODE_ATTEMPTS: int(1, 20),
  DOORMAN_TRUSTED_DEVICE_DAYS: int(1, 365),
  DOORMAN_SMS_COUNTRIES: z
    .string()
    .regex(/^\s*\d{1,3}(\s*,\s*\d{1,3})*\s*$/, 'must be calling codes separated by commas, e.g. 48,49')
    .superRefine((value, issue) => {
      const unknown = value.split(',').map((code) => code.trim()).filter((code) => !knownCallingCodes().has(code));
      if (unknown.length > 0) issue.addIssue({ code: 'custom', message: `names calling codes no country has: ${unknown.join(', ')}` });
    }),
  DOORMAN_TRUST_PROXY: z.string().min(1).refine(isTrustProxy, 'must be off, a hop count, or a comma-separated list of proxy addresses or CIDR ranges'),
  DOORMAN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE: int(1, 1_000_000),
  DOORMAN_RATE_LOGIN_FAILURES_PER_ACCOUNT: int(1, 1_000_000),
  DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE: int(1, 1_000_000),
  DOORMAN_RATE_SENDS_PER_IP_PER_HOUR: int(1, 1_000_000),
  DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR: int(1, 1_000_000),
  DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_DAY: int(1, 1_000_000),
  DOORMAN_LIMIT_SMS_PER_ACCOUNT_HOUR: int(1, 1_000_000),
  DOORMAN_LIMIT_SMS_PER_ACCOUNT_DAY: int(1, 1_000_000),
  DOORMAN_LIMIT_SMS_PER_NUMBER_DAY: int(1, 1_000_000),
  DOORMAN_LIMIT_SMS_PER_IP_HOUR: int(1, 1_000_000),
  DOORMAN_OUTBOX_POLL_MS: int(10, 60 * 60 * 1000),
  DOORMAN_OUTBOX_RETRY_BASE_MS: int(10, 60 * 60 * 1000),
  DOORMAN_DIGEST_HOUR_UTC: int(0, 23),
} as const;

type Field = keyof typeof fields;

let callingCodes: Set<string> | undefined;
/** Every country calling code there is (libphonenumber-js's metadata). */
function knownCallingCodes(): Set<string> {
  callingCodes ??= new Set(getCountries().map((country) => getCountryCallingCode(country)));
  return callingCodes;
}

/** `DOORMAN_*` variables that are no setting (a typo, or one from another version): said at start, never fatal. */
export function unknownSettings(env: Env = process.env): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('DOORMAN_') && !name.startsWith('DOORMAN_TEST_') && !(name in fields))
    .sort();
}

function read<K extends Field>(env: Env, name: K): z.output<(typeof fields)[K]> | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const parsed = fields[name].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${name} ${issue ? issue.message : 'is invalid'}`);
  }
  return parsed.data as z.output<(typeof fields)[K]>;
}

/** The data folder is where the SQLite file and, outside production, the generated secret live. */
function dataDirOf(databaseUrl: string): string {
  if (isPostgresUrl(databaseUrl)) return DEFAULT_DATA_DIR;
  const path = sqlitePathOf(databaseUrl);
  return path === ':memory:' ? DEFAULT_DATA_DIR : dirname(resolve(path));
}

/** `off`, a number of proxy hops, or addresses, CIDR ranges and proxy-addr's names (loopback, linklocal, uniquelocal). */
function isTrustProxy(value: string): boolean {
  if (/^(off|false|\d+)$/.test(value)) return true;
  return value.split(',').every((part) => {
    const entry = part.trim();
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    return (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)) || (family === 4 && isIP(prefix) === 4);
  });
}

export function isPostgresUrl(databaseUrl: string): boolean {
  return /^postgres(ql)?:\/\//i.test(databaseUrl);
}

/** Accepts `sqlite:path`, `sqlite://path`, `file:path` or a plain file path. */
export function sqlitePathOf(databaseUrl: string): string {
  const match = /^(?:sqlite|file):(?:\/\/)?(.*)$/i.exec(databaseUrl);
  return match ? (match[1] ?? '') : databaseUrl;
}

function generatedSecret(dataDir: string): string {
  const file = resolve(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

export function loadConfig(env: Env = process.env): Config {
  // `Production` or ` production ` must not quietly skip the production checks.
  const production = env.NODE_ENV?.trim().toLowerCase() === 'production';
  const databaseUrl = read(env, 'DOORMAN_DATABASE_URL') ?? `${DEFAULT_DATA_DIR}/doorman.sqlite`;
  const dataDir = dataDirOf(databaseUrl);
  const port = read(env, 'DOORMAN_PORT') ?? 3000;
  const publicUrl = new URL(read(env, 'DOORMAN_PUBLIC_URL') ?? `http://localhost:${port}`);
  const smtpUrl = read(env, 'DOORMAN_SMTP_URL');
  const adminToken = read(env, 'DOORMAN_ADMIN_TOKEN');
  let secret = read(env, 'DOORMAN_SECRET');

  if (production) {
    const missing = [
      secret ? null : 'DOORMAN_SECRET',
      adminToken ? null : 'DOORMAN_ADMIN_TOKEN',
      smtpUrl ? null : 'DOORMAN_SMTP_URL',
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production requires ${missing.join(', ')}`);
    }
    if (publicUrl.protocol !== 'https:') {
      throw new ConfigError('DOORMAN_PUBLIC_URL must be https:// when NODE_ENV=production');
    }
  }
  secret ??= generatedSecret(dataDir);

  const smsUrl = read(env, 'DOORMAN_SMS_URL');
  const smsSigningKey = read(env, 'DOORMAN_SMS_SIGNING_KEY');
  if (smsUrl && !smsUrl.startsWith('smpp:') && !smsSigningKey) {
    throw new ConfigError('DOORMAN_SMS_SIGNING_KEY is required when DOORMAN_SMS_URL is an HTTP provider');
  }
  if (smsUrl?.startsWith('http:') && production) {
    throw new ConfigError('DOORMAN_SMS_URL must be https:// when NODE_ENV=production');
  }

  return {
    production,
    databaseUrl,
    dataDir,
    port,
    host: read(env, 'DOORMAN_HOST') ?? '127.0.0.1',
    publicUrl,
    secureCookies: publicUrl.protocol === 'https:',
    secret,
    adminToken,
    smtpUrl,
    mailFrom: read(env, 'DOORMAN_MAIL_FROM') ?? `Doorman <no-reply@${publicUrl.hostname}>`,
    smsUrl,
    smsSigningKey,
    codeTtlSeconds: read(env, 'DOORMAN_CODE_TTL_SECONDS') ?? CODE_TTL_SECONDS,
    resendCooldownSeconds: read(env, 'DOORMAN_RESEND_COOLDOWN_SECONDS') ?? RESEND_COOLDOWN_SECONDS,
    codeLength: read(env, 'DOORMAN_CODE_LENGTH') ?? CODE_LENGTH,
    maxCodeAttempts: read(env, 'DOORMAN_MAX_CODE_ATTEMPTS') ?? MAX_CODE_ATTEMPTS,
    trustedDeviceDays: read(env, 'DOORMAN_TRUSTED_DEVICE_DAYS') ?? TRUSTED_DEVICE_DAYS,
    smsCountries: (read(env, 'DOORMAN_SMS_COUNTRIES') ?? EUROPEAN_CALLING_CODES.join(','))
      .split(',')
      .map((code) => code.trim()),
    trustProxy: read(env, 'DOORMAN_TRUST_PROXY'),
    logLevel: read(env, 'DOORMAN_LOG_LEVEL') ?? 'info',
    rateLimits: {
      loginPerIpPerMinute: read(env, 'DOORMAN_RATE_LOGIN_PER_IP_PER_MINUTE') ?? LOGIN_ATTEMPTS_PER_IP_PER_MINUTE,
      loginFailuresPerAccount: read(env, 'DOORMAN_RATE_LOGIN_FAILURES_PER_ACCOUNT') ?? LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES,
      codeFailuresPerIpPerMinute: read(env, 'DOORMAN_RATE_CODE_FAILURES_PER_IP_PER_MINUTE') ?? CODE_FAILURES_PER_IP_PER_MINUTE,
      sendsPerIpPerHour: read(env, 'DOORMAN_RATE_SENDS_PER_IP_PER_HOUR') ?? SENDS_PER_IP_PER_HOUR,
      emailPerAccountPerHour: read(env, 'DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_HOUR') ?? EMAIL_SENDS_PER_ACCOUNT_PER_HOUR,
      emailPerAccountPerDay: read(env, 'DOORMAN_LIMIT_EMAIL_PER_ACCOUNT_DAY') ?? EMAIL_SENDS_PER_ACCOUNT_PER_DAY,
      smsPerAccountPerHour: read(env, 'DOORMAN_LIMIT_SMS_PER_ACCOUNT_HOUR') ?? SMS_SENDS_PER_ACCOUNT_PER_HOUR,
      smsPerAccountPerDay: read(env, 'DOORMAN_LIMIT_SMS_PER_ACCOUNT_DAY') ?? SMS_SENDS_PER_ACCOUNT_PER_DAY,
      smsPerNumberPerDay: read(env, 'DOORMAN_LIMIT_SMS_PER_NUMBER_DAY') ?? SMS_SENDS_PER_NUMBER_PER_DAY,
      smsPerIpPerHour: read(env, 'DOORMAN_LIMIT_SMS_PER_IP_HOUR') ?? SMS_SENDS_PER_IP_PER_HOUR,
    },
    outbox: {
      pollMs: read(env, 'DOORMAN_OUTBOX_POLL_MS') ?? OUTBOX_POLL_MS,
      retryBaseMs: read(env, 'DOORMAN_OUTBOX_RETRY_BASE_MS') ?? OUTBOX_RETRY_BASE_MS,
      retryMaxMs: OUTBOX_RETRY_MAX_MS,
    },
    digestHourUtc: read(env, 'DOORMAN_DIGEST_HOUR_UTC') ?? DIGEST_HOUR_UTC,
  };
}
