// Security headers for every response. Helmet decides them; since Doorman's policy never varies per
// request, they are computed once at start-up and copied onto each reply.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

function securityHeaderOptions(secure: boolean): HelmetOptions {
  return {
    contentSecurityPolicy: {
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'upgrade-insecure-requests': secure ? [] : null,
      },
    },
    hsts: secure,
    referrerPolicy: { policy: 'same-origin' },
  };
}

export interface SecurityHeaders {
  /** Pages, forms and assets: everything helmet sets. */
  page: Readonly<Record<string, string>>;
  /** JSON under /api/: the set OWASP recommends for REST responses; nothing there is ever rendered. */
  api: Readonly<Record<string, string>>;
}

export function securityHeaders(secure: boolean): SecurityHeaders {
  const page = helmetHeaders(secure);
  const api: Record<string, string> = {
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  const hsts = page['Strict-Transport-Security'];
  if (hsts) api['Strict-Transport-Security'] = hsts;
  return { page, api: Object.freeze(api) };
}

/**
 * The headers helmet would set, plus `Cache-Control: no-store`: nothing Doorman answers may be
 * kept by a browser or a proxy unless a route says otherwise (the static assets do).
 */
function helmetHeaders(secure: boolean): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name];
    },
  };
  let finished = false;
  helmet(securityHeaderOptions(secure))({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  if (!finished) throw new Error('helmet did not finish synchronously');
  headers['Cache-Control'] = 'no-store';
  return Object.freeze(headers);
}
