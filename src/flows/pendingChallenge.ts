// Finds the challenge this browser is in the middle of, from its pending-login and device cookies.
import { challengeStatus } from '../domain/challenge.js';
import { hashToken, isTokenShaped } from '../domain/tokens.js';
import type { FlowContext, SmsSettings } from './context.js';
import { challengeExpired, noChallenge, tooManyAttempts, type DoormanError } from './errors.js';
import type { ChallengeRecord, CompanyRecord, UserRecord } from './ports.js';

export interface BrowserTokens {
  pendingToken: string | undefined;
  deviceToken: string | undefined;
}

export interface PendingChallenge {
  challenge: ChallengeRecord;
  user: UserRecord;
  company: CompanyRecord;
  /** SMS settings with the company's policy applied. */
  sms: SmsSettings;
}

/** SMS is offered only when the service can send it and the company allows it. */
export function smsFor(ctx: FlowContext, company: Pick<CompanyRecord, 'smsAllowed'>): SmsSettings {
  return { ...ctx.sms, enabled: ctx.sms.enabled && company.smsAllowed };
}

/**
 * The pending cookie names the challenge; the device cookie must name the same browser the
 * challenge was opened for, so a pending cookie copied to another browser is worth nothing.
 */
export async function findPendingChallenge(ctx: FlowContext, tokens: BrowserTokens): Promise<PendingChallenge> {
  if (!isTokenShaped(tokens.pendingToken) || !isTokenShaped(tokens.deviceToken)) throw noChallenge();
  const found = await ctx.store.findPendingChallenge(hashToken(tokens.pendingToken), hashToken(tokens.deviceToken));
  if (!found || found.challenge.consumedAt !== null) throw noChallenge();
  const { challenge, user, company } = found;
  return { challenge, user, company, sms: smsFor(ctx, company) };
}

/** Why a challenge can no longer take a code or send one: expired (410), out of attempts (423), used (404). */
export function refusalFor(ctx: FlowContext, challenge: ChallengeRecord | undefined): DoormanError | undefined {
  if (!challenge) return noChallenge();
  const status = challengeStatus(challenge, ctx.clock.now(), ctx.policy);
  if (status === 'expired') return challengeExpired();
  if (status === 'locked') return tooManyAttempts({ attemptsLeft: 0 });
  if (status === 'consumed') return noChallenge();
  return undefined;
}

export function assertChallengeOpen(ctx: FlowContext, challenge: ChallengeRecord): void {
  const refusal = refusalFor(ctx, challenge);
  if (refusal) throw refusal;
}

/** After an atomic update matched nothing: reads the row again to say why. */
export async function refusalAfterRace(ctx: FlowContext, challengeId: string): Promise<DoormanError> {
  return refusalFor(ctx, await ctx.store.findChallenge(challengeId)) ?? noChallenge();
}
