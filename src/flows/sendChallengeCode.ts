// Sends the challenge's code on a channel, at most once per cooldown per channel, through the outbox.
import { decideSend } from '../domain/challenge.js';
import type { Channel } from '../domain/policy.js';
import { availableChannels, encodeChallengeView, type ChallengeView } from './challengeView.js';
import type { FlowContext, RequestInfo } from './context.js';
import { channelUnavailable, noChallenge, resendTooSoon } from './errors.js';
import { assertChallengeOpen, findPendingChallenge, refusalFor, type BrowserTokens } from './pendingChallenge.js';
import type { ChallengeRecord, Store, UserRecord } from './ports.js';

export const VERIFICATION_CODE_TEMPLATE = 'verification-code';

interface QueueInput {
  now: number;
  challenge: ChallengeRecord;
  user: UserRecord;
  channel: Channel;
  request: RequestInfo;
}

/**
 * Claims the send atomically (the cooldown is checked in the UPDATE itself, so parallel requests
 * produce one message) and queues the message in the same transaction. Undefined if not claimed.
 */
export async function queueChallengeCode(ctx: FlowContext, tx: Store, input: QueueInput): Promise<ChallengeRecord | undefined> {
  const { user, channel, now } = input;
  const claimed = await tx.claimChallengeSend(input.challenge.id, channel, now, ctx.policy.resendCooldownMs);
  if (!claimed) return undefined;
  const recipient = channel === 'sms' ? user.phone : user.email;
  if (!recipient) throw channelUnavailable();
  // The payload names the challenge, not the code: the dispatcher derives the code under the secret.
  await tx.enqueueMessage(
    {
      channel,
      template: VERIFICATION_CODE_TEMPLATE,
      recipient,
      locale: user.locale,
      payload: { challengeId: claimed.id, codeLength: ctx.policy.codeLength, name: user.displayName, expiresAt: new Date(claimed.expiresAt).toISOString() },
    },
    now,
  );
  await tx.recordAudit({ event: 'code_sent', outcome: 'success', userId: user.id, companyId: user.companyId, ip: input.request.ip, detail: { channel } }, now);
  return claimed;
}

export interface SendCodeInput extends BrowserTokens {
  channel: Channel;
  request: RequestInfo;
}

export async function sendChallengeCode(ctx: FlowContext, input: SendCodeInput): Promise<ChallengeView> {
  const { challenge, user } = await findPendingChallenge(ctx, input);
  assertChallengeOpen(ctx, challenge);
  if (!availableChannels(user).has(input.channel)) throw channelUnavailable({ channel: input.channel });

  const sent = await ctx.store.transaction((tx) => queueChallengeCode(ctx, tx, { now: ctx.clock.now(), challenge, user, channel: input.channel, request: input.request }));
  if (sent) {
    ctx.messagesQueued();
    return encodeChallengeView(sent, user, ctx.policy);
  }

  // Not claimed: tell why from the row as it is now.
  const current = await ctx.store.findChallenge(challenge.id);
  const refusal = refusalFor(ctx, current);
  if (refusal || !current) throw refusal ?? noChallenge();
  const now = ctx.clock.now();
  const lastSentAt = input.channel === 'sms' ? current.smsSentAt : current.emailSentAt;
  const decision = decideSend(lastSentAt, now, ctx.policy);
  throw resendTooSoon({ retryAfter: decision.allowed ? 1 : decision.retryAfterSeconds });
}
