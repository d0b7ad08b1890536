// Records a sign-in step refused by a rate limit in the audit log, naming the account where the request names one.
import { findPendingChallenge, type BrowserTokens } from './pendingChallenge.js';
import type { FlowContext, RequestInfo } from './context.js';
import type { UserRecord } from './ports.js';

export interface RateLimitedStep {
  step: 'password' | 'code' | 'send';
  /** The limit that refused the request (a limiter name). */
  limit: string;
  request: RequestInfo;
  /** The password step: the e-mail address tried. */
  email?: string;
  /** The code and send steps: the browser's cookies, which lead to its challenge. */
  tokens?: BrowserTokens;
}

const EVENTS = { password: 'sign_in', code: 'code_verified', send: 'code_send_refused' } as const;

/**
 * Called for the refusal that went one past a budget, not for every refused request: a flood of
 * requests writes one audit row per limit and window.
 */
export async function auditRateLimited(ctx: FlowContext, input: RateLimitedStep): Promise<void> {
  let user: UserRecord | undefined;
  if (input.email !== undefined) user = (await ctx.store.findAccountByEmail(input.email))?.user;
  else if (input.tokens) user = await findPendingChallenge(ctx, input.tokens).then((pending) => pending.user, () => undefined);
  await ctx.store.recordAudit(
    {
      event: EVENTS[input.step],
      outcome: 'failure',
      userId: user?.id ?? null,
      companyId: user?.companyId ?? null,
      ip: input.request.ip,
      userAgent: input.request.userAgent,
      detail: { reason: 'rate_limited', limit: input.limit },
    },
    ctx.clock.now(),
  );
}
