// Adding, changing or removing the account's phone number: the password, then a code sent to the new number; the e-mail address is told.
import { isVerificationLocked } from '../domain/lockout.js';
import { maskPhone } from '../domain/mask.js';
import { checkSmsNumber, PHONE_REFUSAL_MESSAGES } from '../domain/phone.js';
import { newId } from '../domain/tokens.js';
import type { FlowContext, RequestInfo } from './context.js';
import { checkPassword } from './accountSecurity.js';
import { checkConfirmationCode, noConfirmation } from './confirmations.js';
import { channelUnavailable, DoormanError, sendLimitRefusal, verificationLockedUntil } from './errors.js';
import type { PhoneChangeRecord } from './ports.js';
import { smsFor } from './pendingChallenge.js';
import { confirmationCooldownKeys, refundOnFailure, sendLimitKeys } from './sendChallengeCode.js';
import type { ActiveSession } from './sessions.js';

export const PHONE_CHANGE_CODE_TEMPLATE = 'phone-change-code';
export const PHONE_CHANGED_TEMPLATE = 'phone-changed';


const invalidPhone = (reason: keyof typeof PHONE_REFUSAL_MESSAGES) => new DoormanError(400, 'invalid_phone', PHONE_REFUSAL_MESSAGES[reason], { reason, field: 'phone' });


export interface PendingPhone {
  destination: string;
  expiresAt: string;
}

export async function startPhoneChange(ctx: FlowContext, active: ActiveSession, input: { phone: string; password: string }, request: RequestInfo): Promise<PendingPhone> {
  const { user } = active;
  await checkPassword(ctx, user, input.password, request);
  const company = await ctx.store.findCompany(user.companyId);
  if (!company || !smsFor(ctx, company).enabled) throw channelUnavailable({ reason: 'sms_not_available' });
  const check = checkSmsNumber(input.phone, ctx.sms.countries);
  if (!check.ok) throw invalidPhone(check.reason);
  // Nothing to confirm: no text is sent, no budget spent, no "changed" e-mail.
  if (check.e164 === user.phone) throw invalidPhone('unchanged');
  const now = ctx.clock.now();
  if (isVerificationLocked(user.verificationLockedUntil, now)) throw verificationLockedUntil(user.verificationLockedUntil, now);

  // One text per re-send cooldown, whatever the number: asking again at once sends nothing.
  const keys = [...confirmationCooldownKeys(ctx, 'phone', user.id), ...sendLimitKeys('sms', { id: user.id, phone: check.e164 }, request.ip)];
  const budget = await ctx.sendLimits.consume(keys);
  if (!budget.allowed) {
    await ctx.store.recordAudit({ event: 'code_send_refused', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { channel: 'sms', limit: budget.limit, purpose: 'phone_change' } }, now);
    throw sendLimitRefusal(budget.limit, budget.retryAfterSeconds);
  }
  const change: PhoneChangeRecord = { id: newId(), userId: user.id, phone: check.e164, createdAt: now, expiresAt: now + ctx.policy.codeTtlMs, attempts: 0, consumedAt: null };
  // Nothing queued (the database went away): the budgets and the cooldown are given back.
  await refundOnFailure(ctx, keys, () => ctx.store.transaction(async (tx) => {
    await tx.insertPhoneChange(change);
    await tx.enqueueMessage(
      {
        channel: 'sms',
        template: PHONE_CHANGE_CODE_TEMPLATE,
        recipient: check.e164,
        locale: user.locale,
        payload: { changeId: change.id, codeLength: ctx.policy.codeLength, expiresAt: new Date(change.expiresAt).toISOString() },
      },
      now,
    );
    await tx.recordAudit({ event: 'phone_change_started', outcome: 'info', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { callingCode: check.callingCode } }, now);
  }));
  ctx.messagesQueued();
  return { destination: maskPhone(check.e164), expiresAt: new Date(change.expiresAt).toISOString() };
}

export async function confirmPhoneChange(ctx: FlowContext, active: ActiveSession, code: string, request: RequestInfo): Promise<string> {
  const { user } = active;
  const change = await checkConfirmationCode(ctx, user, 'phone', code, request);
  const now = ctx.clock.now();
  const done = await ctx.store.transaction(async (tx) => {
    if (!(await tx.consumePhoneChange(change.id, now, ctx.policy.maxCodeAttempts))) return false;
    await tx.updateUser(user.id, { phone: change.phone, phoneVerifiedAt: now }, now);
    await tx.enqueueMessage(
      { channel: 'email', template: PHONE_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, phone: maskPhone(change.phone), ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'phone_changed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent }, now);
    return true;
  });
  if (!done) throw noConfirmation();
  ctx.messagesQueued();
  return maskPhone(change.phone);
}

export async function removePhone(ctx: FlowContext, active: ActiveSession, password: string, request: RequestInfo): Promise<void> {
  const { user } = active;
  await checkPassword(ctx, user, password, request);
  if (!user.phone) return;
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.updateUser(user.id, { phone: null, phoneVerifiedAt: null, ...(user.preferredChannel === 'sms' ? { preferredChannel: null } : {}) }, now);
    await tx.enqueueMessage(
      { channel: 'email', template: PHONE_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, phone: null, ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'phone_removed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent }, now);
  });
  ctx.messagesQueued();
}
