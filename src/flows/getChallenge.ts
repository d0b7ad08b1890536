// Shows the browser's open challenge; never sends and never changes the code.
import { challengeStatus } from '../domain/challenge.js';
import { trustLifetimeDays } from '../domain/devices.js';
import { encodeChallengeView, type ChallengeView } from './challengeView.js';
import type { FlowContext } from './context.js';
import { challengeExpired } from './errors.js';
import { findPendingChallenge, type BrowserTokens } from './pendingChallenge.js';
import type { UserRecord } from './ports.js';

/** `trustDays`: how long "Trust this device" would trust this browser (the company may shorten it). */
export async function getChallenge(ctx: FlowContext, tokens: BrowserTokens): Promise<{ view: ChallengeView; user: UserRecord; locked: boolean; trustDays: number }> {
  const { challenge, user, company, sms } = await findPendingChallenge(ctx, tokens);
  const status = challengeStatus(challenge, ctx.clock.now(), ctx.policy);
  if (status === 'expired') throw challengeExpired();
  return {
    view: encodeChallengeView(challenge, user, ctx.policy, sms),
    user,
    locked: status === 'locked',
    trustDays: trustLifetimeDays(ctx.policy.trustedDeviceDays, company.trustedDeviceDays),
  };
}
