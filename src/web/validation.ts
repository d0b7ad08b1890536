// Request validation: zod schemas for every field a client sends, refusing odd input with a clear 400.
import { domainToASCII } from 'node:url';
import { parsePhoneNumber } from '../domain/phoneNumbers.js';
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH } from '../config.js';
import { invalidRequest } from '../flows/errors.js';

// Control characters (CR/LF and the rest), bidi overrides and other invisible format characters.
const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\u2028\u2029]/u;

export const emailField = z
  .string()
  .max(1024, 'email is too long')
  // Compatibility forms (full-width letters, ligatures) are the plain characters they look like, so
  // a look-alike address is the same account, and a full-width comma is checked as a comma.
  .transform((v) => v.normalize('NFKC').trim())
  .pipe(
    z
      .string()
      .max(254, 'email is too long')
      .refine((v) => !UNSAFE_CHARS.test(v), 'email contains control characters')
      .refine((v) => /^[^\s@"<>()[\]\\,;:]+@[^\s@"<>()[\]\\,;:]+\.[^\s@"<>()[\]\\,;:]+$/.test(v), 'email is not a valid address'),
  );

/** An ASCII (A-label) domain that mail can reach: at least two labels, letters/digits/hyphens, a real-looking top level. */
function isDeliverableDomain(domain: string): boolean {
  const ascii = domainToASCII(domain);
  if (!ascii || ascii.length > 253) return false;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(label))) return false;
  return /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(labels.at(-1)!);
}

/**
 * The address of a new or changed account: besides `emailField`'s checks, a local part as mail
 * servers take it (at most 64 characters, no empty dot-separated part) and a domain mail can reach.
 * Sign-in keeps the lighter `emailField`, so an account created before this check can still sign in.
 */
export const newEmailField = emailField.pipe(
  z.string().refine((v) => {
    const at = v.lastIndexOf('@');
    const local = v.slice(0, at);
    return local.length <= 64 && local.split('.').every((part) => part.length > 0) && isDeliverableDomain(v.slice(at + 1));
  }, 'email is not an address mail can be delivered to'),
);

export const passwordField = z.string().min(1, 'password is required').max(PASSWORD_MAX_LENGTH, 'password is too long');

export const newPasswordField = z
  .string()
  .min(10, 'password must be at least 10 characters')
  .max(PASSWORD_MAX_LENGTH, 'password is too long')
  // A lone surrogate is no character: hashed, every one of them would be the same U+FFFD.
  .refine((v) => !/\p{Cs}/u.test(v), 'password contains an invalid character (a lone surrogate)');

export const nameField = z
  .string()
  .trim()
  .min(1, 'name is required')
  .max(100, 'name is too long')
  // Zero-width joiner and non-joiner are letters' business (Persian and Indic names, joined emoji), not hiding places.
  .refine((v) => !UNSAFE_CHARS.test(v.replace(/(?<=\S)[\u200c\u200d](?=\S)/gu, '')), 'name contains control or invisible formatting characters')
  .transform((v) => v.normalize('NFC'));

/** A mobile number in international form, stored as E.164. */
export const phoneField = z
  .string()
  .trim()
  .max(32, 'phone is too long')
  // Digits with the usual separators only: anything else is refused, not silently dropped by the parser.
  .refine((value) => /^\+?[0-9 ().-]+$/.test(value), 'phone may contain only digits, spaces, dashes, dots, brackets and a leading +')
  .transform((value, ctx) => {
    const parsed = parsePhoneNumber(value);
    if (!parsed || !parsed.isValid()) {
      ctx.addIssue({ code: 'custom', message: 'phone must be a valid number in international form, e.g. +48 601 234 567' });
      return z.NEVER;
    }
    const type = parsed.getType();
    if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') {
      ctx.addIssue({ code: 'custom', message: 'phone must be a mobile number' });
      return z.NEVER;
    }
    return parsed.number;
  });

export const localeField = z.enum(['en', 'pl']);

/** An IANA time zone name such as Europe/Warsaw. */
export const timeZoneField = z
  .string()
  .max(64)
  .refine((value) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: value });
      return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(value);
    } catch {
      return false;
    }
  }, 'timeZone must be an IANA time zone such as Europe/Warsaw');
export const roleField = z.enum(['employee', 'authorized']);

export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalidRequest('The request body must be a JSON object.');
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    const message = issue?.code === 'invalid_type' && issue.path.length > 0 ? `${field} is required or has the wrong type` : (issue?.message ?? 'invalid input');
    throw invalidRequest(message, { field });
  }
  return result.data;
}

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;

const pageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(PAGE_SIZE_DEFAULT),
});

/** `?page=&pageSize=` → offset and limit; every list is paginated. */
export function parsePage(query: unknown): { page: number; pageSize: number; offset: number; limit: number } {
  const { page, pageSize } = parseInput(pageQuery, query ?? {});
  return { page, pageSize, offset: (page - 1) * pageSize, limit: pageSize };
}

/** One page of a list already held in memory, with the paging fields every list answer carries. */
export function pageOfList<T>(items: readonly T[], page: ReturnType<typeof parsePage>) {
  return { items: items.slice(page.offset, page.offset + page.limit), page: page.page, pageSize: page.pageSize, total: items.length };
}

// A calendar date, or a date and time (seconds, fraction and offset optional): `Date.parse` alone takes `1` as the year 2001.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;
const isoDate = z
  .string()
  .max(40)
  .refine((v) => ISO_DATE.test(v) && !Number.isNaN(Date.parse(v)) && new Date(Date.parse(v.slice(0, 10))).toISOString().startsWith(v.slice(0, 10)), 'must be an ISO 8601 date or time, such as 2026-11-29 or 2026-11-29T08:00Z');

export const signInFilterQuery = z.object({
  employee: z.string().max(64).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  newDevicesOnly: z.enum(['true', 'false', '1', '0', 'on']).optional(),
});

export function parseSignInFilter(query: unknown) {
  const q = parseInput(signInFilterQuery.passthrough(), query ?? {});
  return {
    userId: q.employee || undefined,
    from: q.from ? Date.parse(q.from) : undefined,
    to: q.to ? Date.parse(q.to) : undefined,
    newDevicesOnly: q.newDevicesOnly === 'true' || q.newDevicesOnly === '1' || q.newDevicesOnly === 'on',
  };
}
