// Rules of a verification challenge: lifetime, attempts, per-channel re-send cooldown, the first channel.
import type { Channel, VerificationPolicy } from './policy.js';

export interface ChallengeFacts {
  expiresAt: number;
  attempts: number;
  consumedAt: number | null;
}

export type ChallengeStatus = 'open' | 'expired' | 'locked' | 'consumed';

export function challengeExpiresAt(openedAt: number, policy: VerificationPolicy): number {
  return openedAt + policy.codeTtlMs;
}

/** How long the pending-login cookie lives: a little longer than the code, so "expired" can be told from "none". */
export function pendingCookieLifetimeMs(policy: VerificationPolicy): number {
  return policy.codeTtlMs + policy.pendingCookieExtraMs;
}

export function challengeStatus(challenge: ChallengeFacts, now: number, policy: VerificationPolicy): ChallengeStatus {
  if (challenge.consumedAt !== null) return 'consumed';
  if (now >= challenge.expiresAt) return 'expired';
  if (challenge.attempts >= policy.maxCodeAttempts) return 'locked';
  return 'open';
}

export function attemptsLeft(challenge: ChallengeFacts, policy: VerificationPolicy): number {
  return Math.max(0, policy.maxCodeAttempts - challenge.attempts);
}

export type SendDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** A channel may send again only `resendCooldownMs` after its own last send; a channel never used may send at once. */
export function decideSend(lastSentAt: number | null, now: number, policy: VerificationPolicy): SendDecision {
  if (lastSentAt === null) return { allowed: true };
  const availableAt = lastSentAt + policy.resendCooldownMs;
  if (now >= availableAt) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((availableAt - now) / 1000)) };
}

export function resendAvailableAt(lastSentAt: number | null, policy: VerificationPolicy): number | null {
  return lastSentAt === null ? null : lastSentAt + policy.resendCooldownMs;
}

/** The channel a new challenge sends on at once: the one the user last verified with, if it is still available. */
export function firstChannel(preferred: Channel | null, available: ReadonlySet<Channel>): Channel {
  return preferred !== null && available.has(preferred) ? preferred : 'email';
}
