// When a browser counts as authorized for an account, and for how long trust lasts.
import { DAY_MS } from './policy.js';

export interface AccountDeviceFacts {
  trustedAt: number | null;
  trustedUntil: number | null;
  revokedAt: number | null;
}

/** Verification is required from the earliest moment it was switched on, by the user or by company policy. */
export function verificationRequiredSince(userEnabledAt: number | null, companyRequiredAt: number | null): number | null {
  if (userEnabledAt === null) return companyRequiredAt;
  if (companyRequiredAt === null) return userEnabledAt;
  return Math.min(userEnabledAt, companyRequiredAt);
}

/**
 * What decides whether an account's devices count as trusted: since when verification is required
 * (trust given before then no longer counts), and the company's cap on how long trust lasts.
 */
export interface TrustRule {
  requiredSince: number | null;
  maxTrustDays: number | null;
}

export function trustRule(
  user: { twoFactorEnabledAt: number | null },
  company: { requireVerificationAt: number | null; trustedDeviceDays: number | null } | undefined,
): TrustRule {
  return {
    requiredSince: verificationRequiredSince(user.twoFactorEnabledAt, company?.requireVerificationAt ?? null),
    maxTrustDays: company?.trustedDeviceDays ?? null,
  };
}

/** When a trusted device's trust ends: its own date, or sooner when the company has shortened trust since. */
export function trustEndsAt(link: AccountDeviceFacts, maxTrustDays?: number | null): number | null {
  if (link.trustedAt === null || link.trustedUntil === null) return null;
  return maxTrustDays ? Math.min(link.trustedUntil, trustedUntil(link.trustedAt, maxTrustDays)) : link.trustedUntil;
}

/** Trust lasts the service's days, or fewer when company policy says so. */
export function trustLifetimeDays(serviceDays: number, companyDays: number | null): number {
  return companyDays === null ? serviceDays : Math.max(1, Math.min(serviceDays, companyDays));
}

export function trustedUntil(now: number, lifetimeDays: number): number {
  return now + lifetimeDays * DAY_MS;
}

/**
 * A device is trusted while its trust has not run out or been revoked, and only if it was
 * trusted after verification was switched on (switching it on de-authorizes every device).
 */
export function isDeviceTrusted(link: AccountDeviceFacts | undefined, requiredSince: number, now: number, maxTrustDays?: number | null): boolean {
  if (!link || link.trustedAt === null || link.trustedUntil === null) return false;
  if (link.revokedAt !== null && link.revokedAt >= link.trustedAt) return false;
  // A company that shortens trust shortens it for devices already trusted too.
  const until = trustEndsAt(link, maxTrustDays) as number;
  return now < until && link.trustedAt >= requiredSince;
}

export function needsVerification(requiredSince: number | null, link: AccountDeviceFacts | undefined, now: number, maxTrustDays?: number | null): boolean {
  return requiredSince !== null && !isDeviceTrusted(link, requiredSince, now, maxTrustDays);
}
