// The tunable numbers the rules depend on, as plain values (times in milliseconds).

export interface VerificationPolicy {
  codeLength: number;
  codeTtlMs: number;
  resendCooldownMs: number;
  maxCodeAttempts: number;
  accountFailuresPerWindow: number;
  accountFailureWindowMs: number;
  accountLockMs: number;
  trustedDeviceDays: number;
  sessionAbsoluteMs: number;
  sessionIdleMs: number;
  pendingCookieExtraMs: number;
}

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];


export const DAY_MS = 24 * 60 * 60 * 1000;
