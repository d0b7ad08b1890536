// The default rules as a policy value, for domain tests.
import type { VerificationPolicy } from '../../src/domain/policy.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const policy: VerificationPolicy = {
  codeLength: 6,
  codeTtlMs: 15 * MINUTE,
  resendCooldownMs: MINUTE,
  maxCodeAttempts: 5,
  accountFailuresPerWindow: 10,
  accountFailureWindowMs: HOUR,
  accountLockMs: HOUR,
  trustedDeviceDays: 30,
  sessionAbsoluteMs: 12 * HOUR,
  sessionIdleMs: 2 * HOUR,
  pendingCookieExtraMs: 15 * MINUTE,
};
