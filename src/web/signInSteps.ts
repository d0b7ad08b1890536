// The sign-in steps shared by the JSON API and the HTML forms: rate limits, flows, cookies.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pendingCookieLifetimeMs } from '../domain/challenge.js';
import type { Channel } from '../domain/policy.js';
import type { ChallengeView } from '../flows/challengeView.js';
import type { CompletedSignIn } from '../flows/completeSignIn.js';
import { DoormanError, rateLimited } from '../flows/errors.js';
import { sendChallengeCode } from '../flows/sendChallengeCode.js';
import { isTrustedBrowser, signIn, type SignInResult } from '../flows/signIn.js';
import { verifyChallengeCode } from '../flows/verifyChallengeCode.js';
import { ipLimitKey } from '../domain/ipKey.js';
import { normalizeEmail } from '../store/kysely-store.js';
import type { WebDeps } from './deps.js';
import { requestInfo } from './security.js';
import { auditRateLimited, type RateLimitedStep } from '../flows/rateLimitAudit.js';
import type { LimitDecision, Limiter } from '../store/rateLimits.js';
import { hashToken } from '../domain/tokens.js';

/** Answers 429 when the limit refused; the refusal that first went past the budget is audited. */
async function refuse(deps: WebDeps, decision: LimitDecision, audit: RateLimitedStep): Promise<void> {
  if (decision.allowed) return;
  if (decision.firstRefusal) await auditRateLimited(deps.ctx, audit);
  throw rateLimited({ retryAfter: decision.retryAfterSeconds });
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof DoormanError && error.code === code;
}

export function setSignedInCookies(deps: WebDeps, reply: FastifyReply, done: CompletedSignIn): void {
  deps.cookies.setSession(reply, done.sessionToken);
  deps.cookies.setDevice(reply, done.deviceToken);
  deps.cookies.clear(reply, 'pending');
}

export async function passwordStep(deps: WebDeps, request: FastifyRequest, reply: FastifyReply, email: string, password: string): Promise<SignInResult> {
  const { limiters } = deps;
  const info = requestInfo(request);
  const ipKey = ipLimitKey(info.ip);
  const accountKey = normalizeEmail(email);
  // Counted before the password is checked, so a burst of parallel guesses cannot outrun the limit;
  // a right password gives the points back, since only failures should use up a budget.
  await refuse(deps, await limiters.loginPerIp.consume(ipKey), { step: 'password', limit: 'loginPerIp', request: info, email });
  const deviceToken = deps.cookies.read(request, 'device');
  // The budget this attempt counts against: the account's, or, once failures from anywhere have
  // spent that, a browser the account trusts has one of its own (OWASP's "device cookies"), so
  // whoever knows only the e-mail address cannot lock the owner out of their own devices.
  let budget: { limiter: Limiter; key: string } = { limiter: limiters.loginFailuresPerAccount, key: accountKey };
  const account = await budget.limiter.consume(budget.key);
  if (!account.allowed) {
    if (await isTrustedBrowser(deps.ctx, email, deviceToken)) {
      // The account's budget ran out all the same: that is worth the audit log once, whoever hit it.
      if (account.firstRefusal) await auditRateLimited(deps.ctx, { step: 'password', limit: 'loginFailuresPerAccount', request: info, email });
      budget = { limiter: limiters.loginFailuresPerTrustedBrowser, key: hashToken(deviceToken!) };
      const browser = await budget.limiter.consume(budget.key);
      if (!browser.allowed) await limiters.loginPerIp.refund(ipKey);
      await refuse(deps, browser, { step: 'password', limit: 'loginFailuresPerTrustedBrowser', request: info, email });
    } else {
      await limiters.loginPerIp.refund(ipKey);
      await refuse(deps, account, { step: 'password', limit: 'loginFailuresPerAccount', request: info, email });
    }
  }
  let result: SignInResult;
  try {
    result = await signIn(deps.ctx, { email, password, deviceToken, sessionToken: deps.cookies.read(request, 'session'), request: info });
  } catch (error) {
    if (!isCode(error, 'invalid_credentials')) await Promise.all([limiters.loginPerIp.refund(ipKey), budget.limiter.refund(budget.key)]);
    throw error;
  }
  await Promise.all([limiters.loginPerIp.refund(ipKey), budget.limiter.refund(budget.key)]);
  if (result.status === 'authenticated') {
    setSignedInCookies(deps, reply, result);
  } else {
    if (result.deviceToken) deps.cookies.setDevice(reply, result.deviceToken);
    deps.cookies.setPending(reply, result.pendingToken, Math.ceil(pendingCookieLifetimeMs(deps.ctx.policy) / 1000));
  }
  return result;
}

export function browserTokens(deps: WebDeps, request: FastifyRequest) {
  return { pendingToken: deps.cookies.read(request, 'pending'), deviceToken: deps.cookies.read(request, 'device') };
}

export async function sendStep(deps: WebDeps, request: FastifyRequest, channel: Channel): Promise<ChallengeView> {
  const info = requestInfo(request);
  const ipKey = ipLimitKey(info.ip);
  await refuse(deps, await deps.limiters.sendsPerIp.consume(ipKey), { step: 'send', limit: 'sendsPerIp', request: info, tokens: browserTokens(deps, request) });
  try {
    return await sendChallengeCode(deps.ctx, { ...browserTokens(deps, request), channel, request: info });
  } catch (error) {
    await deps.limiters.sendsPerIp.refund(ipKey);
    throw error;
  }
}

export async function verifyStep(
  deps: WebDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  code: string,
  trustDevice: boolean,
  newPassword?: string,
): Promise<CompletedSignIn> {
  const info = requestInfo(request);
  const ipKey = ipLimitKey(info.ip);
  // Counted first and given back unless the code was wrong, so parallel guesses cannot outrun the limit.
  await refuse(deps, await deps.limiters.codeFailuresPerIp.consume(ipKey), { step: 'code', limit: 'codeFailuresPerIp', request: info, tokens: browserTokens(deps, request) });
  try {
    const done = await verifyChallengeCode(deps.ctx, { ...browserTokens(deps, request), code, trustDevice, newPassword, request: info });
    setSignedInCookies(deps, reply, done);
    await deps.limiters.codeFailuresPerIp.refund(ipKey);
    return done;
  } catch (error) {
    if (!isCode(error, 'invalid_code')) await deps.limiters.codeFailuresPerIp.refund(ipKey);
    throw error;
  }
}
