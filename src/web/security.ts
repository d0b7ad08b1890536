// Cross-cutting web protections: the error mapper, the JSON body parser, and the same-origin guard for API calls.
import { isIP } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DoormanError } from '../flows/errors.js';
import type { RequestInfo } from '../flows/context.js';

const FASTIFY_CODES: Record<string, [number, string, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'malformed_json', 'The request body is empty.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'The request body is too large.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Send application/json.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_request', 'The Content-Length header does not match the body.'],
  FST_ERR_CTP_INVALID_TYPE: [400, 'invalid_request', 'The Content-Type header is invalid.'],
  FST_CSRF_INVALID_TOKEN: [403, 'csrf_failed', 'The form expired. Reload the page and try again.'],
  FST_CSRF_MISSING_SECRET: [403, 'csrf_failed', 'The form expired. Reload the page and try again.'],
};

export interface PublicError {
  status: number;
  body: { error: string; message: string } & Record<string, unknown>;
  retryAfter?: number;
}

// Connection-level failures of the database (PostgreSQL SQLSTATE classes 08 and 57P, socket errors, SQLite busy).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300', 'SQLITE_BUSY']);

/** Whether the error means the database cannot be reached right now (the request may be retried). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(message);
}

/** Maps any thrown error to what a client may see; 5xx never carries internal text. */
export function toPublicError(error: unknown): PublicError {
  if (isDatabaseUnavailable(error)) {
    return { status: 503, body: { error: 'service_unavailable', message: 'The service cannot reach its database right now. Try again shortly.' }, retryAfter: 5 };
  }
  if (error instanceof DoormanError) {
    const retry = error.extra.retryAfter;
    return {
      status: error.statusCode,
      body: { error: error.code, message: error.message, ...error.extra },
      retryAfter: typeof retry === 'number' ? retry : undefined,
    };
  }
  const fastifyError = error as Partial<FastifyError>;
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { status: known[0], body: { error: known[1], message: known[2] } };
  if (fastifyError.validation) return { status: 400, body: { error: 'invalid_request', message: 'The request is not valid.' } };
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { error: status === 404 ? 'not_found' : 'bad_request', message: 'The request could not be handled.' } };
  }
  return { status: 500, body: { error: 'internal_error', message: 'Something went wrong on our side.' } };
}

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const mapped = toPublicError(error);
  if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
  return reply.code(mapped.status).type('application/json; charset=utf-8').send(mapped.body);
}

/** Empty JSON bodies count as `{}` (a bare POST /logout); everything else goes through Fastify's prototype-safe parser. */
export function registerJsonParser(app: FastifyInstance, bodyLimit: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, {});
    parse(request, body as string, (error: Error | null, parsed?: unknown) => {
      if (!error && holdsNul(parsed)) return done(nulCharacter());
      done(error, parsed);
    });
  });
}

/**
 * No field, id or parameter may hold a NUL character: PostgreSQL cannot store one in text, so it
 * would fail the query (a 500) where SQLite finds nothing. Refused up front, the same on both.
 */
const nulCharacter = () => new DoormanError(400, 'invalid_request', 'The request contains a NUL character, which no field accepts.');

/** Whether any string (key or value) in a parsed body holds a NUL character. */
function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (typeof value !== 'object' || value === null || depth > 64) return false;
  for (const [key, item] of Object.entries(value)) if (key.includes('\0') || holdsNul(item, depth + 1)) return true;
  return false;
}

/**
 * What every request is checked for before routing (called from the one `onRequest` hook of the
 * app, which runs on every request, the session check included): a NUL in the address, a
 * compressed body, a body in another character set than UTF-8.
 */
export function refusedInput(request: FastifyRequest): DoormanError | undefined {
  if (request.url.includes('%00')) return nulCharacter();
  // Bodies are read as plain UTF-8: a compressed one, or text in another character set, would be misread.
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return new DoormanError(415, 'unsupported_media_type', 'Compressed request bodies are not accepted.');
  }
  const type = request.headers['content-type'];
  const charset = type === undefined ? undefined : /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    return new DoormanError(415, 'unsupported_media_type', 'Send the body in UTF-8.');
  }
  return undefined;
}

/** Form posts (the pages' scopes): no field may hold a NUL. JSON bodies are checked by their parser. */
export function refuseNulInForms(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body !== undefined && holdsNul(request.body)) return done(nulCharacter());
    done();
  });
}

/**
 * Cross-site request forgery guard for JSON calls. Browsers send Origin on every cross-origin
 * POST and cannot send application/json cross-site without a CORS preflight (which we never
 * grant), so a state-changing call must be same-origin and, when it has a body, JSON.
 */
export function assertSameOriginJson(request: FastifyRequest, publicOrigin: string): void {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== publicOrigin) {
    throw new DoormanError(403, 'csrf_failed', 'Cross-origin requests are not allowed.');
  }
  if (origin === undefined && request.headers['sec-fetch-site'] === 'cross-site') {
    throw new DoormanError(403, 'csrf_failed', 'Cross-origin requests are not allowed.');
  }
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (hasBody && type !== 'application/json') {
    throw new DoormanError(415, 'unsupported_media_type', 'Send application/json.');
  }
}

export function requestInfo(request: FastifyRequest): RequestInfo {
  const agent = request.headers['user-agent'] ?? '';
  // Stored and shown in e-mails; keep it one printable line of sane length.
  return { ip: clientIp(request), userAgent: agent.replace(/[\p{Cc}]/gu, ' ').slice(0, 400) };
}

/**
 * The client's address: the socket's, or the one a trusted proxy forwarded (Fastify's `request.ip`).
 * A forwarded value that is not an address (a proxy passing on whatever the client wrote) is not
 * believed: the proxy's own address stands instead, in limits, logs and e-mails alike.
 */
export function clientIp(request: FastifyRequest): string {
  // A zone (`fe80::1%eth0`) names an interface of the sender's host, means nothing here, and may be any text.
  const forwarded = request.ip.split('%')[0]!;
  if (isIP(forwarded)) return forwarded;
  // Some proxies append the client's port: `1.2.3.4:5678`, `[2001:db8::1]:443`.
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(forwarded) ?? /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(forwarded);
  if (withPort && isIP(withPort[1]!)) return withPort[1]!;
  return request.socket.remoteAddress ?? 'unknown';
}
