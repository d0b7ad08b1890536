// Codes that confirm an account setting (a new phone number, switching verification off): checked like sign-in codes,
// counted towards the same per-account lock, and derived under a prefix of their own.
import { attemptsLeft } from '../domain/challenge.js';
import { codeMatches, deriveCode, isWellFormedCode, normalizeCodeInput } from '../domain/code.js';
import { failureWindowStart, isVerificationLocked, lockUntil, shouldLockAccount } from '../domain/lockout.js';
import type { FlowContext, RequestInfo } from './context.js';
import { DoormanError, invalidCode, lockedMeanwhile, tooManyAttempts, verificationLockedUntil } from './errors.js';
import type { ConfirmationPurpose, PhoneChangeRecord, UserRecord } from './ports.js';
import { VERIFICATION_LOCKED_TEMPLATE } from './verifyChallengeCode.js';

/** The HMAC input of a confirmation code: each purpose has its own prefix, so codes never carry over. */
export function confirmationCodeInput(purpose: ConfirmationPurpose, id: string): string {
  return purpose === 'phone' ? `phone-change:${id}` : `${purpose}:${id}`;
}

export const noConfirmation = () => new DoormanError(404, 'no_confirmation', 'There is nothing waiting for a code. Start again.');

/**
 * Checks the code of the user's open confirmation for `purpose`. A wrong code counts against the
 * row (5 attempts) and the account (10 an hour lock verification and e-mail the user), atomically.
 */
export async function checkConfirmationCode(
  ctx: FlowContext,
  user: UserRecord,
  purpose: ConfirmationPurpose,
  code: string,
  request: RequestInfo,
): Promise<PhoneChangeRecord> {
  const now = ctx.clock.now();
  if (isVerificationLocked(user.verificationLockedUntil, now)) throw verificationLockedUntil(user.verificationLockedUntil, now);
  const open = await ctx.store.findOpenPhoneChange(user.id, now, purpose);
  if (!open) throw noConfirmation();
  if (open.attempts >= ctx.policy.maxCodeAttempts) throw tooManyAttempts({ attemptsLeft: 0 });
  const entered = normalizeCodeInput(code);
  const expected = deriveCode(ctx.secret, confirmationCodeInput(purpose, open.id), ctx.policy.codeLength);
  if (isWellFormedCode(entered, ctx.policy.codeLength) && codeMatches(entered, expected)) return open;

  const outcome = await ctx.store.transaction(async (tx) => {
    if (!(await tx.holdUnlockedAccount(user.id, now))) return 'locked' as const;
    const attempts = await tx.addPhoneChangeAttempt(open.id, ctx.policy.maxCodeAttempts);
    if (attempts === undefined) return 'exhausted' as const;
    await tx.insertCodeFailure(user.id, now);
    const failures = await tx.countCodeFailures(user.id, failureWindowStart(now, ctx.policy));
    if (shouldLockAccount(failures, ctx.policy) && (await tx.lockVerification(user.id, lockUntil(now, ctx.policy), now))) {
      await tx.enqueueMessage(
        { channel: 'email', template: VERIFICATION_LOCKED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: request.ip, at: new Date(now).toISOString(), until: new Date(lockUntil(now, ctx.policy)).toISOString(), timeZone: user.timeZone } },
        now,
      );
    }
    await tx.recordAudit({ event: 'confirmation_code', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { purpose, attempts } }, now);
    return attempts;
  });
  ctx.messagesQueued();
  if (outcome === 'locked') throw await lockedMeanwhile(ctx.store, user.id, now);
  if (outcome === 'exhausted') throw tooManyAttempts({ attemptsLeft: 0 });
  throw invalidCode({ attemptsLeft: attemptsLeft({ ...open, attempts: outcome }, ctx.policy) });
}
