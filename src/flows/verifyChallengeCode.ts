// Checks an entered code: a wrong one counts against the challenge and the account; the right one authorizes the browser.
import { attemptsLeft } from '../domain/challenge.js';
import { codeMatches, deriveCode, isWellFormedCode, normalizeCodeInput } from '../domain/code.js';
import { failureWindowStart, isVerificationLocked, lockUntil, shouldLockAccount } from '../domain/lockout.js';
import type { Channel } from '../domain/policy.js';
import { completeSignIn, type CompletedSignIn } from './completeSignIn.js';
import type { FlowContext, RequestInfo } from './context.js';
import { invalidCode, lockedMeanwhile, passwordChangeRequired, passwordReused, verificationLockedUntil } from './errors.js';
import { assertChallengeOpen, findPendingChallenge, refusalAfterRace, type BrowserTokens } from './pendingChallenge.js';
import type { ChallengeRecord, UserRecord } from './ports.js';
import { recordFailedSignIn } from './signInLog.js';

export const VERIFICATION_LOCKED_TEMPLATE = 'verification-locked';
export const PASSWORD_CHANGED_TEMPLATE = 'password-changed';

export interface VerifyInput extends BrowserTokens {
  code: string;
  trustDevice: boolean;
  /** Required when the account must change its password (after "This wasn't me"); validated by the caller. */
  newPassword?: string;
  request: RequestInfo;
}

export async function verifyChallengeCode(ctx: FlowContext, input: VerifyInput): Promise<CompletedSignIn> {
  const { challenge, user, company } = await findPendingChallenge(ctx, input);
  assertChallengeOpen(ctx, challenge);
  const now = ctx.clock.now();
  if (isVerificationLocked(user.verificationLockedUntil, now)) throw verificationLockedUntil(user.verificationLockedUntil, now);

  const entered = normalizeCodeInput(input.code);
  const expected = deriveCode(ctx.secret, challenge.id, ctx.policy.codeLength);
  const correct = isWellFormedCode(entered, ctx.policy.codeLength) && codeMatches(entered, expected);
  if (!correct) return refuseWrongCode(ctx, challenge, user, input.request);

  // A required password change is asked for only once the code is right, and consumes nothing until it is given.
  let newPasswordHash: string | undefined;
  if (user.passwordChangeRequired) {
    if (!input.newPassword) throw passwordChangeRequired();
    if (await ctx.hasher.verify(user.passwordHash, input.newPassword)) throw passwordReused();
    newPasswordHash = await ctx.hasher.hash(input.newPassword);
  }

  const done = await ctx.store.transaction(async (tx) => {
    // The account row is held first, so a lock set by a concurrent wrong code is seen here.
    if (!(await tx.holdUnlockedAccount(user.id, now))) return 'locked' as const;
    // The consuming UPDATE is the race gate: of two requests with the right code, one wins.
    if (!(await tx.consumeChallenge(challenge.id, now, ctx.policy.maxCodeAttempts))) return undefined;
    const channel = lastUsedChannel(challenge);
    await tx.updateUser(
      user.id,
      channel === 'sms' ? { phoneVerifiedAt: now, preferredChannel: 'sms' } : { emailVerifiedAt: now, preferredChannel: 'email' },
      now,
    );
    if (newPasswordHash !== undefined) {
      // A password change revokes every trusted device and every other session.
      await tx.updateUser(user.id, { passwordHash: newPasswordHash, passwordChangeRequired: false }, now);
      await tx.revokeAllTrust(user.id, now);
      await tx.revokeUserSessions(user.id, now);
      // Other browsers' sign-ins waiting for a code got past the old password.
      await tx.expireOpenChallenges(user.id);
      await tx.enqueueMessage(
        { channel: 'email', template: PASSWORD_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: input.request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
        now,
      );
      await tx.recordAudit({ event: 'password_changed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { reason: 'reported_sign_in' } }, now);
    }
    await tx.recordAudit({ event: 'code_verified', outcome: 'success', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { channel, trustDevice: input.trustDevice } }, now);
    return completeSignIn(ctx, tx, {
      user,
      company,
      deviceId: challenge.deviceId,
      request: input.request,
      trust: input.trustDevice ? 'grant' : 'keep',
      verified: true,
    });
  });
  if (done === 'locked') throw await lockedMeanwhile(ctx.store, user.id, now);
  if (!done) throw await refusalAfterRace(ctx, challenge.id);
  ctx.messagesQueued();
  return done;
}

/** The channel whose message the user most likely read: the one that sent last. */
function lastUsedChannel(challenge: ChallengeRecord): Channel {
  return (challenge.smsSentAt ?? -1) > (challenge.emailSentAt ?? -1) ? 'sms' : 'email';
}

async function refuseWrongCode(ctx: FlowContext, challenge: ChallengeRecord, user: UserRecord, request: RequestInfo): Promise<never> {
  const now = ctx.clock.now();
  const outcome = await ctx.store.transaction(async (tx) => {
    // Held account row: concurrent wrong codes for one account are counted one after another, so the lock trips at exactly the limit.
    if (!(await tx.holdUnlockedAccount(user.id, now))) return { attempts: undefined, lockedNow: false, accountLocked: true };
    const attempts = await tx.addChallengeAttempt(challenge.id, ctx.policy.maxCodeAttempts);
    if (attempts === undefined) return { attempts: undefined, lockedNow: false, accountLocked: false };
    // Wrong codes also count per account across challenges; a new challenge never resets them.
    await tx.insertCodeFailure(user.id, now);
    const failures = await tx.countCodeFailures(user.id, failureWindowStart(now, ctx.policy));
    let lockedNow = false;
    if (shouldLockAccount(failures, ctx.policy) && (await tx.lockVerification(user.id, lockUntil(now, ctx.policy), now))) {
      lockedNow = true;
      await tx.enqueueMessage(
        { channel: 'email', template: VERIFICATION_LOCKED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: request.ip, at: new Date(now).toISOString(), until: new Date(lockUntil(now, ctx.policy)).toISOString(), timeZone: user.timeZone } },
        now,
      );
      await tx.recordAudit({ event: 'verification_locked', outcome: 'info', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { failures } }, now);
    }
    await tx.recordAudit({ event: 'code_verified', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { attempts } }, now);
    await recordFailedSignIn(tx, user, request, now, 'invalid_code');
    return { attempts, lockedNow, accountLocked: false };
  });
  if (outcome.lockedNow) ctx.messagesQueued();
  if (outcome.accountLocked) throw await lockedMeanwhile(ctx.store, user.id, now);
  if (outcome.attempts === undefined) throw await refusalAfterRace(ctx, challenge.id);
  // The entry that locked the account is a wrong code all the same; it promises no attempts that
  // are gone, and says until when the account is locked.
  if (outcome.lockedNow) throw invalidCode({ attemptsLeft: 0, lockedUntil: new Date(lockUntil(now, ctx.policy)).toISOString() });
  throw invalidCode({ attemptsLeft: attemptsLeft({ ...challenge, attempts: outcome.attempts }, ctx.policy) });
}
