// Session lifetimes: an absolute limit from sign-in and an idle limit from the last request.
import type { VerificationPolicy } from './policy.js';

/** Writing last-seen on every request would make a session check a write; once a minute is precise enough for a 2 h idle limit. */
export const SESSION_TOUCH_INTERVAL_MS = 60 * 1000;

export interface SessionFacts {
  createdAt: number;
  lastSeenAt: number;
  revokedAt: number | null;
}

export function sessionExpiresAt(session: SessionFacts, policy: VerificationPolicy): number {
  return Math.min(session.createdAt + policy.sessionAbsoluteMs, session.lastSeenAt + policy.sessionIdleMs);
}

export function isSessionActive(session: SessionFacts, now: number, policy: VerificationPolicy): boolean {
  return session.revokedAt === null && now < sessionExpiresAt(session, policy);
}

export function shouldTouchSession(session: SessionFacts, now: number): boolean {
  return now - session.lastSeenAt >= SESSION_TOUCH_INTERVAL_MS;
}
