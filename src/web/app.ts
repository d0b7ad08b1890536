// Builds the Fastify application: security plugins first, then the page, API and admin routes.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import view from '@fastify/view';
import { Eta } from 'eta';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import pino from 'pino';
import { adminApi } from './admin/routes.js';
import { authApi } from './api/auth.js';
import type { WebDeps } from './deps.js';
import { securityHeaders } from './headers.js';
import { pickLocale, refusalTitle, translator } from './i18n.js';
import { isTokenShaped } from '../domain/tokens.js';
import { notFound } from '../flows/errors.js';
import { languageLinks, refusalWithRetry } from './pages/kit.js';
import { companyPages } from './pages/company.js';
import { pageRoutes } from './pages/routes.js';
import { clientIp, registerJsonParser, refusedInput, sendError, toPublicError } from './security.js';

export const BODY_LIMIT_BYTES = 16 * 1024;

/** Log redaction: cookies, authorization and anything that could carry a secret never reach the log. */
export const LOG_REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.password',
  '*.code',
  '*.token',
];

/**
 * A path with its secret parts removed: query strings are dropped, and so is any segment after a
 * `report` one or as long as a token (tokens are 43 characters and more, row ids 22), so a "This
 * wasn't me" token stays out of the log however its path was mangled (`/Report/…`, `/report//…`).
 */
export function redactUrl(url: string): string {
  const segments = url.split('?')[0]!.split('/');
  return segments.map((segment, i) => (segment.length >= 32 || (i > 0 && /^report$/i.test(segments[i - 1]!)) ? '[redacted]' : segment)).join('/');
}

/** Logger settings for the server: level, redaction, and request lines without secrets in the URL. */
export function loggerOptions(level: string, stream?: NodeJS.WritableStream) {
  return {
    level,
    // Standard output written asynchronously: lines that arrive while a write is in flight go out
    // together in the next one, and nothing waits for a buffer to fill (a quiet server's warnings
    // appear at once). Flushed on exit.
    stream: stream ?? pino.destination({ dest: 1, sync: false, minLength: 0 }),
    redact: { paths: LOG_REDACT, censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({ method: request.method, url: redactUrl(request.url), remoteAddress: request.socket ? clientIp(request) : request.ip }),
    },
  };
}

function trustProxyOption(value: string | undefined): FastifyServerOptions['trustProxy'] {
  if (!value || value === 'off' || value === 'false') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address: string, hop: number) => hop < hops;
  }
  return value.split(',').map((part) => part.trim());
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (malformed, oversized headers, too
 * slow) still get the `{error, message}` body every other 4xx has.
 */
export function clientErrorResponse(code: string | undefined): { status: number; body: string } {
  const [status, error, message] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'The request headers are too large.']
      : code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT'
        ? [408, 'request_timeout', 'The request took too long to arrive.']
        : [400, 'bad_request', 'The request is not valid HTTP.'];
  return { status, body: JSON.stringify({ error, message }) };
}

function onClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const { status, body } = clientErrorResponse(error.code);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export async function buildApp(deps: WebDeps, logger: FastifyServerOptions['logger'] = false): Promise<FastifyInstance> {
  const headers = securityHeaders(deps.config.secureCookies);
  const app = Fastify({
    logger,
    // One line per request, when it is answered (below), instead of one when it arrives and one when it ends.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trustProxyOption(deps.config.trustProxy),
    routerOptions: { maxParamLength: 200 },
    clientErrorHandler: onClientError,
    // Addresses the router cannot read (a broken %-escape, an overlong segment) answer like any other 4xx.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      request.log.info({ error: error.code }, 'request refused');
      void (reply as unknown as FastifyReply)
        .code(tooLong ? 414 : 400)
        .headers(headers.api)
        .send(tooLong ? { error: 'uri_too_long', message: 'A part of the address is too long.' } : { error: 'bad_url', message: 'The address is not valid.' });
    },
  });

  if (logger) {
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
      done();
    });
  }

  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith('/api/') ? headers.api : headers.page);
    done(refusedInput(request));
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: BODY_LIMIT_BYTES });
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: deps.cookies.names.csrf,
    cookieOpts: deps.cookies.csrfOptions,
  });
  registerJsonParser(app, BODY_LIMIT_BYTES);
  await app.register(view, {
    engine: { eta: new Eta() },
    root: fileURLToPath(new URL('./views', import.meta.url)),
    viewExt: 'eta',
  });

  app.setErrorHandler((error, request, reply) => {
    const mapped = toPublicError(error);
    const dbError = mapped.status === 503 ? String((error as { code?: unknown }).code ?? (error as { message?: unknown }).message ?? 'unknown') : undefined;
    if (dbError) request.log.warn({ dbError }, 'database unavailable');
    else if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ error: mapped.body.error }, 'request refused');
    // Pages answer with a page; the API (and anything that did not ask for HTML) with JSON.
    const wantsHtml = !request.url.startsWith('/api/') && (request.headers.accept ?? '').includes('text/html');
    if (!wantsHtml) return sendError(reply, error);
    let page: Record<string, unknown>;
    try {
      const lang = pickLocale(request);
      const t = translator(lang);
      page = {
        t,
        lang,
        langHref: languageLinks(request),
        title: t(refusalTitle(mapped.status)),
        text: refusalWithRetry(mapped, deps.ctx.clock.now())(t),
        // A browser with a session cookie is offered its account, not a login form.
        ...(isTokenShaped(deps.cookies.read(request, 'session')) ? { linkHref: '/account', linkText: t('account.title') } : { linkHref: '/login', linkText: t('common.login') }),
      };
    } catch (pageError) {
      // A request too broken to build a page for still gets its own status and body, never the framework's.
      request.log.warn({ err: pageError }, 'error page failed');
      return sendError(reply, error);
    }
    if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
    return reply.code(mapped.status).header('Cache-Control', 'no-store').view('message.eta', page);
  });
  // Through the error handler: a page for browsers, JSON for the API and everything else.
  app.setNotFoundHandler(async () => {
    throw notFound();
  });
  // Browsers ask for it on every page; there is none, and saying so quietly keeps their consoles clean.
  app.get('/favicon.ico', (_request, reply) => reply.code(204).header('Cache-Control', 'public, max-age=86400').send());

  app.get('/healthz', async (_request, reply) => {
    try {
      await deps.ping();
      return { status: 'ok' };
    } catch {
      // The same answer as any request during an outage.
      return reply.code(503).header('Retry-After', '5').send({ error: 'service_unavailable', message: 'The service cannot reach its database right now. Try again shortly.' });
    }
  });

  await app.register(async (scope) => pageRoutes(scope, deps));
  await app.register(async (scope) => companyPages(scope, deps));
  await app.register(async (scope) => authApi(scope, deps), { prefix: '/api/v1' });
  await app.register(async (scope) => adminApi(scope, deps), { prefix: '/api/v1/admin' });
  return app;
}
