// Looks up the signed-in session behind a cookie, and ends it.
import { verificationRequiredSince } from '../domain/devices.js';
import { isSessionActive, sessionExpiresAt, shouldTouchSession } from '../domain/sessions.js';
import { hashToken, isTokenShaped } from '../domain/tokens.js';
import type { FlowContext, RequestInfo } from './context.js';
import type { AccountDeviceRecord, SessionRecord, UserRecord } from './ports.js';

export interface ActiveSession {
  session: SessionRecord;
  user: UserRecord;
  link: AccountDeviceRecord;
  expiresAt: number;
  requiredSince: number | null;
}

export async function lookupSession(ctx: FlowContext, sessionToken: string | undefined): Promise<ActiveSession | undefined> {
  if (!isTokenShaped(sessionToken)) return undefined;
  const { store } = ctx;
  const session = await store.findSessionByTokenHash(hashToken(sessionToken));
  const now = ctx.clock.now();
  if (!session || !isSessionActive(session, now, ctx.policy)) return undefined;
  const [user, link] = await Promise.all([store.findUserById(session.userId), store.findAccountDeviceById(session.accountDeviceId)]);
  if (!user || !link) return undefined;
  if (shouldTouchSession(session, now)) {
    await store.touchSession(session.id, now);
    session.lastSeenAt = now;
  }
  const company = await store.findCompany(user.companyId);
  return {
    session,
    user,
    link,
    expiresAt: sessionExpiresAt(session, ctx.policy),
    requiredSince: verificationRequiredSince(user.twoFactorEnabledAt, company?.requireVerificationAt ?? null),
  };
}

export async function signOut(ctx: FlowContext, active: ActiveSession, request: RequestInfo): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.revokeSession(active.session.id, now);
    await tx.recordAudit({ event: 'sign_out', outcome: 'success', userId: active.user.id, companyId: active.user.companyId, ip: request.ip, deviceId: active.link.id }, now);
  });
}
