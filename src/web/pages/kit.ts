// Helpers every page route uses: CSRF check, rendering in the reader's language, message pages, form bodies.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTokenShaped } from '../../domain/tokens.js';
import { DoormanError } from '../../flows/errors.js';
import type { Locale } from '../../flows/ports.js';
import type { WebDeps } from '../deps.js';
import { errorText, pickLocale, translator, type MessageKey, type Translate } from '../i18n.js';

export type Form = Record<string, unknown>;

/**
 * Text for a page, written once the page's language is known (the account's, for a signed-in or
 * verifying user): a fixed string, or a function of the page's translator.
 */
export type PageText = string | ((t: Translate) => string);
/** A refusal's text in the page's language. */
export const refusalText = (body: { error: string; message: string; reason?: unknown }): PageText => (t) => errorText(t, body);

/** When a wait of `seconds` from `now` ends: the time, and the date too when it is not today (UTC). */
function retryMoment(now: number, seconds: number): string {
  const iso = new Date(now + seconds * 1000).toISOString();
  return iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? timeOf(iso) : `${iso.slice(0, 10)} ${timeOf(iso)}`;
}

/** A refusal's text, and when it ends if it ends at a known time (a database outage has none). */
export const refusalWithRetry = (mapped: { status: number; body: { error: string; message: string; reason?: unknown }; retryAfter?: number | undefined }, now: number) => (t: Translate): string =>
  mapped.retryAfter !== undefined && mapped.status !== 503
    ? `${errorText(t, mapped.body)} ${t('page.retryAt', { time: retryMoment(now, mapped.retryAfter) })}`
    : errorText(t, mapped.body);
const TEXT_FIELDS = ['error', 'notice', 'title', 'text', 'linkText'] as const;
export const formOf = (request: FastifyRequest): Form =>
  request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Form) : {};

export const timeOf = (iso: string) => iso.slice(11, 19);
export const dateTimeOf = (iso: string) => iso.slice(0, 16).replace('T', ' ');
export const msToText = (ms: number | null | undefined) => (ms === null || ms === undefined ? '' : dateTimeOf(new Date(ms).toISOString()));

/**
 * The same page in another language, keeping where the reader was going (`next`) and what they were
 * looking at (the query). A page answering a form post links to the page that form belongs to.
 */
export function languageHref(request: FastifyRequest, locale: Locale): string {
  const queryAt = request.url.indexOf('?');
  let path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  let query = new URLSearchParams(queryAt < 0 ? '' : request.url.slice(queryAt + 1));
  // Only a path on this site: never `//host` or `/\host`, which a browser would read as another site.
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(path)) path = '/login';
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const segments = path.split('/').filter(Boolean);
    path = segments[0] === 'report' ? path : segments[0] === 'login' && segments[1] === 'verify' ? '/login/verify' : `/${segments[0] ?? 'login'}`;
    query = new URLSearchParams();
    const next = formOf(request).next;
    if (typeof next === 'string' && /^\/(?![/\\])/.test(next)) query.set('next', next);
  }
  query.set('lang', locale);
  return `${path}?${query.toString()}`;
}

/** The layout's language links for this request. */
export const languageLinks = (request: FastifyRequest) => ({ en: languageHref(request, 'en'), pl: languageHref(request, 'pl') });

export function createPageKit(app: FastifyInstance, deps: WebDeps) {
  const { config } = deps;
  const origin = config.publicUrl.origin;

  // Forms carry a CSRF token; a foreign Origin is refused before the token is even looked at.
  const csrf = async (request: FastifyRequest, reply: FastifyReply) => {
    const from = request.headers.origin;
    if (from !== undefined && from !== origin) throw new DoormanError(403, 'csrf_failed', 'Cross-origin form posts are not allowed.');
    await new Promise<void>((resolve, reject) => app.csrfProtection(request, reply, (error?: Error) => (error ? reject(error) : resolve())));
  };

  const html = (request: FastifyRequest, reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200, accountLocale?: Locale) => {
    const locale = pickLocale(request, accountLocale);
    const t = translator(locale);
    for (const field of TEXT_FIELDS) {
      const value = data[field];
      if (typeof value === 'function') data = { ...data, [field]: (value as (t: Translate) => string)(t) };
    }
    const chosen = (request.query as Record<string, unknown> | undefined)?.lang;
    if (chosen === 'en' || chosen === 'pl') deps.cookies.setLanguage(reply, chosen);
    return reply.code(status).header('Cache-Control', 'no-store').view(view, { ...data, t, lang: locale, langHref: languageLinks(request) });
  };

  const message = (request: FastifyRequest, reply: FastifyReply, status: number, title: PageText, text: PageText, linkHref = '/login', linkText?: PageText, accountLocale?: Locale) =>
    html(request, reply, 'message.eta', { title, text, linkHref, linkText: linkText ?? ((t: Translate) => t('common.login')) }, status, accountLocale);

  const tr = (request: FastifyRequest, key: MessageKey, params?: Record<string, string | number>, accountLocale?: Locale) =>
    translator(pickLocale(request, accountLocale))(key, params);

  /** To sign in first, then on to `next`: a browser half-way through signing in goes back to its code page. */
  const toSignIn = (request: FastifyRequest, reply: FastifyReply, next: string) => {
    const pending = isTokenShaped(deps.cookies.read(request, 'pending'));
    return reply.redirect(`${pending ? '/login/verify' : '/login'}?next=${encodeURIComponent(next)}`, 303);
  };

  return { csrf, html, message, tr, toSignIn };
}
