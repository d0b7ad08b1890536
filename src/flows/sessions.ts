// Looks up the signed-in session behind a cookie, and ends it.
import { trustRule, type TrustRule } from '../domain/devices.js';
import { isSessionActive, sessionExpiresAt, shouldTouchSession } from '../domain/sessions.js';
import { hashToken, isTokenShaped } from '../domain/tokens.js';
import type { FlowContext, RequestInfo } from './context.js';
import type { AccountDeviceRecord, CompanyRecord, SessionRecord, UserRecord } from './ports.js';

export interface ActiveSession {
  session: SessionRecord;
  user: UserRecord;
  link: AccountDeviceRecord;
  company: CompanyRecord;
  expiresAt: number;
  trust: TrustRule;
}

export async function lookupSession(ctx: FlowContext, sessionToken: string | undefined): Promise<ActiveSession | undefined> {
  if (!isTokenShaped(sessionToken)) return undefined;
  const found = await ctx.store.findSessionContext(hashToken(sessionToken));
  const now = ctx.clock.now();
  if (!found || !isSessionActive(found.session, now, ctx.policy)) return undefined;
  const { session, user, link, company } = found;
  if (shouldTouchSession(session, now)) {
    await ctx.store.touchSession(session.id, now);
    session.lastSeenAt = now;
  }
  return {
    session,
    user,
    link,
    company,
    expiresAt: sessionExpiresAt(session, ctx.policy),
    trust: trustRule(user, company),
  };
}

export async function signOut(ctx: FlowContext, active: ActiveSession, request: RequestInfo): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.revokeSession(active.session.id, now);
    await tx.recordAudit({ event: 'sign_out', outcome: 'success', userId: active.user.id, companyId: active.user.companyId, ip: request.ip, userAgent: request.userAgent, deviceId: active.link.id }, now);
  });
}
