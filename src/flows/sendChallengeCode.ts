// Sends the challenge's code on a channel, at most once per cooldown per channel and within the sending budgets, through the outbox.
import { decideSend } from '../domain/challenge.js';
import { ipLimitKey } from '../domain/ipKey.js';
import { isVerificationLocked } from '../domain/lockout.js';
import type { Channel } from '../domain/policy.js';
import { availableChannels, encodeChallengeView, smsUnavailableReason, type ChallengeView } from './challengeView.js';
import type { FlowContext, RequestInfo } from './context.js';
import { channelUnavailable, DoormanError, noChallenge, resendTooSoon, sendLimitRefusal, verificationLockedUntil } from './errors.js';
import { assertChallengeOpen, findPendingChallenge, refusalFor, type BrowserTokens } from './pendingChallenge.js';
import type { ChallengeRecord, SendLimitKey, Store, UserRecord } from './ports.js';

export const VERIFICATION_CODE_TEMPLATE = 'verification-code';

interface QueueInput {
  now: number;
  challenge: ChallengeRecord;
  user: UserRecord;
  channel: Channel;
  request: RequestInfo;
}

export type QueueResult = { status: 'sent'; challenge: ChallengeRecord } | { status: 'cooldown' } | { status: 'over_budget'; refusal: DoormanError };

/** The re-send cooldown of a confirmation code (`purpose` of the account), when there is one. */
export function confirmationCooldownKeys(ctx: FlowContext, purpose: string, userId: string): SendLimitKey[] {
  return ctx.policy.resendCooldownMs > 0 ? [['confirmationResend', `${purpose}:${userId}`]] : [];
}

/** Runs `work`; if it fails, the send it was to make is given back to `keys`' budgets, and the failure goes on. */
export async function refundOnFailure<T>(ctx: FlowContext, keys: readonly SendLimitKey[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await ctx.sendLimits.refund(keys).catch(() => {});
    throw error;
  }
}

/** The budgets one send counts against: per account and channel (hour, day); for SMS also per number and per IP. */
export function sendLimitKeys(channel: Channel, user: Pick<UserRecord, 'id' | 'phone'>, ip: string): SendLimitKey[] {
  if (channel === 'email') {
    return [
      ['emailPerAccountHour', user.id],
      ['emailPerAccountDay', user.id],
    ];
  }
  return [
    ['smsPerAccountHour', user.id],
    ['smsPerAccountDay', user.id],
    ['smsPerNumberDay', user.phone ?? ''],
    ['smsPerIpHour', ipLimitKey(ip)],
  ];
}

/**
 * Inside the caller's transaction: claims the send atomically (the cooldown is checked in the UPDATE
 * itself, and the claimed row stays held until this transaction ends, so of parallel requests one
 * sends and the others are told to wait), then counts it against its budgets: only a send that
 * would really go out uses budget. Over budget, the claim is given back and the refusal audited.
 * Never throws for a refusal, so the audit row commits.
 */
export async function queueChallengeCode(ctx: FlowContext, tx: Store, input: QueueInput): Promise<QueueResult> {
  const { user, channel, now } = input;
  const claimed = await tx.claimChallengeSend(input.challenge.id, channel, now, ctx.policy.resendCooldownMs);
  if (!claimed) return { status: 'cooldown' };
  const budget = await ctx.sendLimits.consume(sendLimitKeys(channel, user, input.request.ip));
  if (!budget.allowed) {
    // The last send as this request found it: had another send landed since, the claim would have failed.
    await tx.restoreChallengeSend(claimed.id, channel, channel === 'sms' ? input.challenge.smsSentAt : input.challenge.emailSentAt);
    await tx.recordAudit({ event: 'code_send_refused', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { channel, limit: budget.limit } }, now);
    return { status: 'over_budget', refusal: sendLimitRefusal(budget.limit, budget.retryAfterSeconds) };
  }
  const recipient = channel === 'sms' ? user.phone : user.email;
  if (!recipient) throw channelUnavailable();
  // The payload names the challenge, not the code: the dispatcher derives the code under the secret.
  await tx.enqueueMessage(
    {
      channel,
      template: VERIFICATION_CODE_TEMPLATE,
      recipient,
      locale: user.locale,
      payload: { challengeId: claimed.id, codeLength: ctx.policy.codeLength, name: user.displayName, expiresAt: new Date(claimed.expiresAt).toISOString(), timeZone: user.timeZone },
    },
    now,
  );
  await tx.recordAudit({ event: 'code_sent', outcome: 'success', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { channel } }, now);
  return { status: 'sent', challenge: claimed };
}

export interface SendCodeInput extends BrowserTokens {
  channel: Channel;
  request: RequestInfo;
}

export async function sendChallengeCode(ctx: FlowContext, input: SendCodeInput): Promise<ChallengeView> {
  const { challenge, user, sms } = await findPendingChallenge(ctx, input);
  assertChallengeOpen(ctx, challenge);
  if (isVerificationLocked(user.verificationLockedUntil, ctx.clock.now())) throw verificationLockedUntil(user.verificationLockedUntil, ctx.clock.now());
  if (!availableChannels(user, sms).has(input.channel)) {
    const reason = input.channel === 'sms' ? smsUnavailableReason(user, sms) : undefined;
    await ctx.store.recordAudit(
      { event: 'code_send_refused', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { channel: input.channel, reason: reason ?? 'unavailable' } },
      ctx.clock.now(),
    );
    throw channelUnavailable({ channel: input.channel, reason });
  }

  const result = await ctx.store.transaction((tx) => queueChallengeCode(ctx, tx, { now: ctx.clock.now(), challenge, user, channel: input.channel, request: input.request }));
  if (result.status === 'sent') {
    ctx.messagesQueued();
    return encodeChallengeView(result.challenge, user, ctx.policy, sms);
  }
  if (result.status === 'over_budget') throw result.refusal;

  // Not claimed: tell why from the row as it is now.
  const current = await ctx.store.findChallenge(challenge.id);
  const refusal = refusalFor(ctx, current);
  if (refusal || !current) throw refusal ?? noChallenge();
  const lastSentAt = input.channel === 'sms' ? current.smsSentAt : current.emailSentAt;
  const decision = decideSend(lastSentAt, ctx.clock.now(), ctx.policy);
  throw resendTooSoon({ retryAfter: decision.allowed ? 1 : decision.retryAfterSeconds });
}
