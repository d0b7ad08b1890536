// Public JSON shapes of users, devices and sessions; rows never leave the service as they are.
import { isDeviceTrusted } from '../domain/devices.js';
import type { AccountDeviceRecord, SessionRecord, UserRecord } from './ports.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

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

/** `requiredSince`: when verification was switched on for the account; trust given before then no longer counts. */
export function encodeDevice(link: AccountDeviceRecord, now: number, requiredSince: number | null) {
  const trusted = isDeviceTrusted(link, requiredSince ?? 0, now);
  return {
    id: link.id,
    trusted,
    trustedUntil: trusted ? iso(link.trustedUntil) : null,
    firstSignInAt: iso(link.firstSignInAt),
    lastSignInAt: iso(link.lastSignInAt),
    lastIp: link.lastIp,
    userAgent: link.userAgent,
  };
}

export function encodeSession(session: SessionRecord, expiresAt: number) {
  return {
    id: session.id,
    createdAt: iso(session.createdAt),
    lastSeenAt: iso(session.lastSeenAt),
    expiresAt: iso(expiresAt),
    trustedDevice: session.trusted,
  };
}
