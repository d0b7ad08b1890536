// Helpers every page route uses: CSRF check, rendering in the reader's language, message pages, form bodies.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DoormanError } from '../../flows/errors.js';
import type { Locale } from '../../flows/ports.js';
import type { WebDeps } from '../deps.js';
import { LANG_COOKIE, pickLocale, translator, type MessageKey } from '../i18n.js';

export type Form = Record<string, unknown>;
export const formOf = (request: FastifyRequest): Form =>
  request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Form) : {};

export const timeOf = (iso: string) => iso.slice(11, 19);
export const dateTimeOf = (iso: string) => iso.slice(0, 16).replace('T', ' ');
export const msToText = (ms: number | null | undefined) => (ms === null || ms === undefined ? '' : dateTimeOf(new Date(ms).toISOString()));

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
    const chosen = (request.query as Record<string, unknown> | undefined)?.lang;
    if (chosen === 'en' || chosen === 'pl') reply.setCookie(LANG_COOKIE, chosen, { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: 365 * 24 * 3600 });
    return reply.code(status).header('Cache-Control', 'no-store').view(view, { ...data, t: translator(locale), lang: locale });
  };

  const message = (request: FastifyRequest, reply: FastifyReply, status: number, title: string, text: string, linkHref = '/login', linkText?: string) =>
    html(request, reply, 'message.eta', { title, text, linkHref, linkText: linkText ?? translator(pickLocale(request))('common.login') }, status);

  const tr = (request: FastifyRequest, key: MessageKey, params?: Record<string, string | number>, accountLocale?: Locale) =>
    translator(pickLocale(request, accountLocale))(key, params);

  return { csrf, html, message, tr };
}
