// "This wasn't me" links: the token is an HMAC of the report id under the server secret, so no token is stored.
import { createHmac, timingSafeEqual } from 'node:crypto';

const REPORT_CONTEXT = 'doorman/sign-in-report/v1\0';
export const REPORT_LINK_DAYS = 7;

function mac(secret: string, reportId: string): string {
  return createHmac('sha256', secret).update(REPORT_CONTEXT).update(reportId).digest('base64url');
}

/** `<reportId>.<mac>`: the whole value is the link's secret. */
export function reportToken(secret: string, reportId: string): string {
  return `${reportId}.${mac(secret, reportId)}`;
}

/** The report id if the token is genuine, otherwise undefined. */
export function reportIdFromToken(secret: string, token: string): string | undefined {
  const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return undefined;
  const [, id, given] = match as unknown as [string, string, string];
  const expected = Buffer.from(mac(secret, id));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? id : undefined;
}
