// The per-account guard on wrong codes: too many across challenges in a window locks verification.
import type { VerificationPolicy } from './policy.js';

export function isVerificationLocked(lockedUntil: number | null, now: number): boolean {
  return lockedUntil !== null && now < lockedUntil;
}

/** Start of the sliding window in which wrong codes count towards the account lock. */
export function failureWindowStart(now: number, policy: VerificationPolicy): number {
  return now - policy.accountFailureWindowMs;
}

export function shouldLockAccount(failuresInWindow: number, policy: VerificationPolicy): boolean {
  return failuresInWindow >= policy.accountFailuresPerWindow;
}

export function lockUntil(now: number, policy: VerificationPolicy): number {
  return now + policy.accountLockMs;
}
