// Adding, changing or removing the account's phone number: the password, then a code sent to the new number; the e-mail address is told.
import { attemptsLeft } from '../domain/challenge.js';
import { codeMatches, deriveCode, isWellFormedCode, normalizeCodeInput } from '../domain/code.js';
import { failureWindowStart, isVerificationLocked, lockUntil, shouldLockAccount } from '../domain/lockout.js';
import { maskPhone } from '../domain/mask.js';
import { checkSmsNumber, PHONE_REFUSAL_MESSAGES } from '../domain/phone.js';
import { newId } from '../domain/tokens.js';
import type { FlowContext, RequestInfo } from './context.js';
import { channelUnavailable, DoormanError, invalidCode, tooManyAttempts, verificationLocked } from './errors.js';
import type { PhoneChangeRecord } from './ports.js';
import { smsFor } from './pendingChallenge.js';
import { sendLimitKeys } from './sendChallengeCode.js';
import type { ActiveSession } from './sessions.js';
import { VERIFICATION_LOCKED_TEMPLATE } from './verifyChallengeCode.js';

export const PHONE_CHANGE_CODE_TEMPLATE = 'phone-change-code';
export const PHONE_CHANGED_TEMPLATE = 'phone-changed';

/** Codes for phone changes are derived like challenge codes, under their own prefix. */
export const phoneChangeCodeInput = (changeId: string) => `phone-change:${changeId}`;

const wrongPassword = () => new DoormanError(403, 'invalid_password', 'The password is not correct.');
const noPhoneChange = () => new DoormanError(404, 'no_phone_change', 'There is no phone number waiting for confirmation. Start again.');
const invalidPhone = (reason: keyof typeof PHONE_REFUSAL_MESSAGES) => new DoormanError(400, 'invalid_phone', PHONE_REFUSAL_MESSAGES[reason], { reason, field: 'phone' });

async function checkPassword(ctx: FlowContext, active: ActiveSession, password: string): Promise<void> {
  if (!(await ctx.hasher.verify(active.user.passwordHash, password))) throw wrongPassword();
}

export interface PendingPhone {
  destination: string;
  expiresAt: string;
}

export async function startPhoneChange(ctx: FlowContext, active: ActiveSession, input: { phone: string; password: string }, request: RequestInfo): Promise<PendingPhone> {
  const { user } = active;
  await checkPassword(ctx, active, input.password);
  const company = await ctx.store.findCompany(user.companyId);
  if (!company || !smsFor(ctx, company).enabled) throw channelUnavailable({ reason: 'sms_not_available' });
  const check = checkSmsNumber(input.phone, ctx.sms.countries);
  if (!check.ok) throw invalidPhone(check.reason);
  const now = ctx.clock.now();
  if (isVerificationLocked(user.verificationLockedUntil, now)) throw verificationLocked();

  const keys = sendLimitKeys('sms', { id: user.id, phone: check.e164 }, request.ip);
  const budget = await ctx.sendLimits.check(keys);
  if (!budget.allowed) {
    await ctx.store.recordAudit({ event: 'code_send_refused', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, detail: { channel: 'sms', limit: budget.limit, purpose: 'phone_change' } }, now);
    throw new DoormanError(429, 'send_limit_reached', 'Too many codes were sent. Try again later.', { reason: budget.limit, retryAfter: budget.retryAfterSeconds });
  }
  const change: PhoneChangeRecord = { id: newId(), userId: user.id, phone: check.e164, createdAt: now, expiresAt: now + ctx.policy.codeTtlMs, attempts: 0, consumedAt: null };
  await ctx.store.transaction(async (tx) => {
    await tx.insertPhoneChange(change);
    await tx.enqueueMessage(
      { channel: 'sms', template: PHONE_CHANGE_CODE_TEMPLATE, recipient: check.e164, locale: user.locale, payload: { changeId: change.id, codeLength: ctx.policy.codeLength } },
      now,
    );
    await tx.recordAudit({ event: 'phone_change_started', outcome: 'info', userId: user.id, companyId: user.companyId, ip: request.ip, detail: { callingCode: check.callingCode } }, now);
  });
  await ctx.sendLimits.record(keys);
  ctx.messagesQueued();
  return { destination: maskPhone(check.e164), expiresAt: new Date(change.expiresAt).toISOString() };
}

export async function confirmPhoneChange(ctx: FlowContext, active: ActiveSession, code: string, request: RequestInfo): Promise<string> {
  const { user } = active;
  const now = ctx.clock.now();
  if (isVerificationLocked(user.verificationLockedUntil, now)) throw verificationLocked();
  const change = await ctx.store.findOpenPhoneChange(user.id, now);
  if (!change) throw noPhoneChange();
  if (change.attempts >= ctx.policy.maxCodeAttempts) throw tooManyAttempts({ attemptsLeft: 0 });

  const entered = normalizeCodeInput(code);
  const expected = deriveCode(ctx.secret, phoneChangeCodeInput(change.id), ctx.policy.codeLength);
  if (!isWellFormedCode(entered, ctx.policy.codeLength) || !codeMatches(entered, expected)) {
    const outcome = await ctx.store.transaction(async (tx) => {
      if (!(await tx.holdUnlockedAccount(user.id, now))) return 'locked' as const;
      const attempts = await tx.addPhoneChangeAttempt(change.id, ctx.policy.maxCodeAttempts);
      if (attempts === undefined) return 'exhausted' as const;
      // Wrong codes here count towards the same per-account lock as sign-in codes.
      await tx.insertCodeFailure(user.id, now);
      const failures = await tx.countCodeFailures(user.id, failureWindowStart(now, ctx.policy));
      if (shouldLockAccount(failures, ctx.policy) && (await tx.lockVerification(user.id, lockUntil(now, ctx.policy), now))) {
        await tx.enqueueMessage(
          { channel: 'email', template: VERIFICATION_LOCKED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: request.ip, at: new Date(now).toISOString() } },
          now,
        );
      }
      await tx.recordAudit({ event: 'phone_change_code', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, detail: { attempts } }, now);
      return attempts;
    });
    ctx.messagesQueued();
    if (outcome === 'locked') throw verificationLocked();
    if (outcome === 'exhausted') throw tooManyAttempts({ attemptsLeft: 0 });
    throw invalidCode({ attemptsLeft: attemptsLeft({ ...change, attempts: outcome }, ctx.policy) });
  }

  const done = await ctx.store.transaction(async (tx) => {
    if (!(await tx.consumePhoneChange(change.id, now, ctx.policy.maxCodeAttempts))) return false;
    await tx.updateUser(user.id, { phone: change.phone, phoneVerifiedAt: now }, now);
    await tx.enqueueMessage(
      { channel: 'email', template: PHONE_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, phone: maskPhone(change.phone), ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'phone_changed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip }, now);
    return true;
  });
  if (!done) throw noPhoneChange();
  ctx.messagesQueued();
  return maskPhone(change.phone);
}

export async function removePhone(ctx: FlowContext, active: ActiveSession, password: string, request: RequestInfo): Promise<void> {
  const { user } = active;
  await checkPassword(ctx, active, password);
  if (!user.phone) return;
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.updateUser(user.id, { phone: null, phoneVerifiedAt: null, ...(user.preferredChannel === 'sms' ? { preferredChannel: null } : {}) }, now);
    await tx.enqueueMessage(
      { channel: 'email', template: PHONE_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, phone: null, ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'phone_removed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip }, now);
  });
  ctx.messagesQueued();
}
