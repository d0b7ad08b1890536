// Public JSON shapes of users, devices and sessions; rows never leave the service as they are.
import { isDeviceTrusted, trustEndsAt, type TrustRule } from '../domain/devices.js';
import { describeUserAgent } from '../domain/userAgent.js';
import { isoTime } from './isoTime.js';
import type { AccountDeviceRecord, Locale, SessionRecord, SignInRecord, UserRecord } from './ports.js';

const iso = (ms: number | null) => (ms === null ? null : isoTime(ms));

export function encodeUser(user: UserRecord) {
  return {
    id: user.id,
    email: user.email,
    name: user.displayName,
    companyId: user.companyId,
    role: user.role,
    locale: user.locale,
    hasPhone: user.phone !== null,
    twoFactor: user.twoFactorEnabledAt !== null,
    personalDataVerified: user.personalDataVerifiedAt !== null,
  };
}

/** `trust`: the account's rule (when verification was switched on, the company's cap on trust). */
/** `locale`: the language of the browser's name ("Chrome 126 on Windows"); pages pass the reader's, the API keeps English. */
export function encodeDevice(link: AccountDeviceRecord, now: number, trust: TrustRule, currentLinkId?: string, locale?: Locale) {
  const trusted = isDeviceTrusted(link, trust.requiredSince ?? 0, now, trust.maxTrustDays);
  return {
    id: link.id,
    current: link.id === currentLinkId,
    browser: describeUserAgent(link.userAgent, locale),
    location: null,
    trusted,
    trustedUntil: trusted ? iso(trustEndsAt(link, trust.maxTrustDays)) : null,
    firstSignInAt: iso(link.firstSignInAt),
    lastSignInAt: iso(link.lastSignInAt),
    lastIp: link.lastIp,
    userAgent: link.userAgent,
  };
}

export function encodeSession(session: SessionRecord, expiresAt: number, currentSessionId?: string, locale?: Locale) {
  return {
    id: session.id,
    current: session.id === currentSessionId,
    ip: session.ip,
    browser: describeUserAgent(session.userAgent, locale),
    createdAt: iso(session.createdAt),
    lastSeenAt: iso(session.lastSeenAt),
    expiresAt: iso(expiresAt),
    trustedDevice: session.trusted,
  };
}

export function encodeSignIn(row: SignInRecord & { userEmail?: string; userName?: string }, locale?: Locale) {
  return {
    id: row.id,
    at: isoTime(row.at),
    outcome: row.outcome,
    reason: row.reason,
    newDevice: row.newDevice,
    ip: row.ip,
    browser: describeUserAgent(row.userAgent, locale),
    ...(row.userEmail !== undefined ? { employee: { id: row.userId, email: row.userEmail, name: row.userName } } : {}),
  };
}

export function encodeEmployee(user: UserRecord, lastSignInAt: number | null, companyRequiresAuthorization: boolean) {
  return {
    id: user.id,
    email: user.email,
    name: user.displayName,
    role: user.role,
    twoFactor: user.twoFactorEnabledAt !== null,
    authorizationRequired: companyRequiresAuthorization || user.twoFactorEnabledAt !== null,
    hasPhone: user.phone !== null,
    personalDataVerified: user.personalDataVerifiedAt !== null,
    lastSignInAt: iso(lastSignInAt),
  };
}
