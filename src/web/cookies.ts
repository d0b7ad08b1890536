// Cookie names and attributes: HttpOnly, SameSite=Lax, and Secure with the __Host- prefix when the public URL is https.
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEVICE_COOKIE_SECONDS } from '../config.js';
import type { Locale } from '../flows/ports.js';
import { LANG_COOKIE } from './i18n.js';

export interface CookieJar {
  names: { device: string; session: string; pending: string; csrf: string };
  read(request: FastifyRequest, name: keyof CookieJar['names']): string | undefined;
  setDevice(reply: FastifyReply, token: string): void;
  /** A browser-session cookie: never Max-Age or Expires, so it ends with the browser. */
  setSession(reply: FastifyReply, token: string): void;
  setPending(reply: FastifyReply, token: string, lifetimeSeconds: number): void;
  /** The language chosen on a page, for a year. */
  setLanguage(reply: FastifyReply, locale: Locale): void;
  clear(reply: FastifyReply, name: keyof CookieJar['names']): void;
  csrfOptions: CookieSerializeOptions;
}

export function createCookieJar(secure: boolean): CookieJar {
  const prefix = secure ? '__Host-' : '';
  const names = {
    device: `${prefix}doorman_device`,
    session: `${prefix}doorman_session`,
    pending: `${prefix}doorman_pending`,
    csrf: `${prefix}doorman_csrf`,
  };
  const base: CookieSerializeOptions = { path: '/', httpOnly: true, sameSite: 'lax', secure };
  return {
    names,
    read: (request, name) => request.cookies?.[names[name]],
    setDevice: (reply, token) => void reply.setCookie(names.device, token, { ...base, maxAge: DEVICE_COOKIE_SECONDS }),
    setSession: (reply, token) => void reply.setCookie(names.session, token, base),
    setPending: (reply, token, lifetimeSeconds) => void reply.setCookie(names.pending, token, { ...base, maxAge: lifetimeSeconds }),
    setLanguage: (reply, locale) => void reply.setCookie(`${prefix}${LANG_COOKIE}`, locale, { ...base, maxAge: 365 * 24 * 3600 }),
    clear: (reply, name) => void reply.clearCookie(names[name], base),
    csrfOptions: { ...base, sameSite: 'strict' },
  };
}
