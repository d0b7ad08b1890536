// What a signed-in user sees and controls about their own account: devices, sessions, sign-ins, authorization, password.
import { trustRule, type TrustRule } from '../domain/devices.js';
import { isSessionActive } from '../domain/sessions.js';
import { newId } from '../domain/tokens.js';
import { checkConfirmationCode } from './confirmations.js';
import { confirmationCooldownKeys, refundOnFailure, sendLimitKeys } from './sendChallengeCode.js';
import type { FlowContext, RequestInfo } from './context.js';
import { DoormanError, notFound, passwordReused, rateLimited, sendLimitRefusal, tooManyAttempts } from './errors.js';
import type { AccountDeviceRecord, Page, Store, UserRecord } from './ports.js';
import type { ActiveSession } from './sessions.js';
import { PASSWORD_CHANGED_TEMPLATE } from './verifyChallengeCode.js';

export const CONFIRMATION_CODE_TEMPLATE = 'confirmation-code';
export const AUTHORIZATION_DISABLED_TEMPLATE = 'authorization-disabled';

const wrongPassword = () => new DoormanError(403, 'invalid_password', 'The password is not correct.');
const requiredByCompany = () => new DoormanError(409, 'required_by_company', 'Your company requires account authorization for every employee.');

export type Actor = { kind: 'user'; userId: string } | { kind: 'company'; userId: string };

/** Removes a device's authorization and trust and ends its sessions: its next sign-in needs a code. */
export async function revokeDevice(ctx: FlowContext, owner: UserRecord, linkId: string, actor: Actor, request: RequestInfo): Promise<void> {
  const link = await ctx.store.findAccountDeviceById(linkId);
  // Another account's device looks exactly like a missing one.
  if (!link || link.userId !== owner.id) throw notFound();
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.revokeAccountDevice(link.id, now);
    await tx.revokeSessionsOfAccountDevice(link.id, now);
    await tx.recordAudit({ event: 'device_revoked', outcome: 'success', userId: owner.id, companyId: owner.companyId, ip: request.ip, userAgent: request.userAgent, deviceId: link.id, detail: { by: actor.kind, actorId: actor.userId } }, now);
  });
}

/** Every device loses trust and every session ends, this one included. */
export async function revokeAllDevices(ctx: FlowContext, owner: UserRecord, actor: Actor, request: RequestInfo): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    // Signing out every browser includes the ones half-way through signing in. First: on PostgreSQL
    // this waits for a code being verified right now, so the statements below see its new session.
    await tx.expireOpenChallenges(owner.id);
    await tx.revokeAllTrust(owner.id, now);
    await tx.revokeUserSessions(owner.id, now);
    await tx.recordAudit({ event: 'all_devices_revoked', outcome: 'success', userId: owner.id, companyId: owner.companyId, ip: request.ip, userAgent: request.userAgent, detail: { by: actor.kind, actorId: actor.userId } }, now);
  });
}

export async function revokeSession(ctx: FlowContext, owner: UserRecord, sessionId: string, actor: Actor, request: RequestInfo): Promise<void> {
  const session = await ctx.store.findSession(sessionId);
  if (!session || session.userId !== owner.id) throw notFound();
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.revokeSession(session.id, now);
    await tx.recordAudit({ event: 'session_revoked', outcome: 'success', userId: owner.id, companyId: owner.companyId, ip: request.ip, userAgent: request.userAgent, deviceId: session.accountDeviceId, detail: { by: actor.kind, actorId: actor.userId } }, now);
  });
}

export async function revokeAllSessions(ctx: FlowContext, owner: UserRecord, actor: Actor, request: RequestInfo): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.expireOpenChallenges(owner.id);
    await tx.revokeUserSessions(owner.id, now);
    await tx.recordAudit({ event: 'all_sessions_revoked', outcome: 'success', userId: owner.id, companyId: owner.companyId, ip: request.ip, userAgent: request.userAgent, detail: { by: actor.kind, actorId: actor.userId } }, now);
  });
}

export interface DeviceListing {
  devices: AccountDeviceRecord[];
  trust: TrustRule;
}

export async function listDevices(ctx: FlowContext, owner: UserRecord): Promise<DeviceListing> {
  const [devices, company] = await Promise.all([ctx.store.listAccountDevices(owner.id), ctx.store.findCompany(owner.companyId)]);
  return { devices, trust: trustRule(owner, company) };
}

/** Sessions that are still usable: not revoked, within the absolute and the idle lifetime. */
export async function listSessions(ctx: FlowContext, owner: UserRecord) {
  const now = ctx.clock.now();
  const sessions = await ctx.store.listActiveSessions(owner.id, now - ctx.policy.sessionAbsoluteMs);
  return sessions.filter((session) => isSessionActive(session, now, ctx.policy));
}

export async function listSignIns(ctx: FlowContext, owner: UserRecord, page: Page) {
  const [rows, total] = await Promise.all([ctx.store.listSignIns({ userId: owner.id }, page), ctx.store.countSignIns({ userId: owner.id })]);
  return { rows, total };
}

/**
 * Switching on takes effect at once: no device is authorized any more, so every other session
 * (begun with the password alone) ends; this one goes on. Switching off needs the password and an
 * e-mailed code.
 */
export async function setAuthorization(
  ctx: FlowContext,
  active: ActiveSession,
  input: { enabled: boolean; password?: string; code?: string },
  request: RequestInfo,
): Promise<{ enabled: boolean; codeSent?: 'email' }> {
  const { user } = active;
  const now = ctx.clock.now();
  if (input.enabled) {
    if (user.twoFactorEnabledAt === null) {
      await ctx.store.transaction(async (tx) => {
        await tx.updateUser(user.id, { twoFactorEnabledAt: now }, now);
        // (Under a company requirement nothing changes: every session was begun with a code or a trusted device.)
        if (active.company.requireVerificationAt === null) await tx.revokeUserSessions(user.id, now, active.session.id);
        await tx.recordAudit({ event: 'authorization_enabled', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { by: 'user' } }, now);
      });
    }
    return { enabled: true };
  }
  const company = await ctx.store.findCompany(user.companyId);
  if (company?.requireVerificationAt !== null && company?.requireVerificationAt !== undefined) throw requiredByCompany();
  await checkPassword(ctx, user, input.password ?? '', request);
  if (user.twoFactorEnabledAt === null) return { enabled: false };

  if (!input.code) {
    // The open request is reused (same code); a new one is made only when none is open. Either way the
    // e-mail counts against the account's e-mail budget, like a sign-in code.
    // Asked again within the re-send cooldown, nothing is sent (the code is the same anyway).
    const keys = [...confirmationCooldownKeys(ctx, 'disable_authorization', user.id), ...sendLimitKeys('email', user, request.ip)];
    const budget = await ctx.sendLimits.consume(keys);
    if (!budget.allowed) throw sendLimitRefusal(budget.limit, budget.retryAfterSeconds);
    const open = await ctx.store.findOpenPhoneChange(user.id, now, 'disable_authorization');
    const request_ = open ?? { id: newId(), userId: user.id, phone: '', purpose: 'disable_authorization' as const, createdAt: now, expiresAt: now + ctx.policy.codeTtlMs, attempts: 0, consumedAt: null };
    await refundOnFailure(ctx, keys, () => ctx.store.transaction(async (tx) => {
      if (!open) await tx.insertPhoneChange(request_);
      await tx.enqueueMessage(
        {
          channel: 'email',
          template: CONFIRMATION_CODE_TEMPLATE,
          recipient: user.email,
          locale: user.locale,
          payload: { changeId: request_.id, codeLength: ctx.policy.codeLength, name: user.displayName, expiresAt: new Date(request_.expiresAt).toISOString() },
        },
        now,
      );
      await tx.recordAudit({ event: 'authorization_off_requested', outcome: 'info', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent }, now);
    }));
    ctx.messagesQueued();
    return { enabled: true, codeSent: 'email' };
  }

  const open = await checkConfirmationCode(ctx, user, 'disable_authorization', input.code, request);
  const done = await ctx.store.transaction(async (tx) => {
    if (!(await tx.consumePhoneChange(open.id, now, ctx.policy.maxCodeAttempts))) return false;
    await tx.updateUser(user.id, { twoFactorEnabledAt: null }, now);
    await tx.enqueueMessage(
      { channel: 'email', template: AUTHORIZATION_DISABLED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'authorization_disabled', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { by: 'user' } }, now);
    return true;
  });
  if (!done) throw tooManyAttempts({ attemptsLeft: 0 });
  ctx.messagesQueued();
  return { enabled: false };
}

/**
 * Re-entering the password for a sensitive change: wrong answers are audited and limited per
 * account like sign-in failures, so a stolen session cannot be used to guess the password.
 */
export async function checkPassword(ctx: FlowContext, user: UserRecord, password: string, request: RequestInfo): Promise<void> {
  const budget = await ctx.reauthLimit.consume(user.id);
  if (!budget.allowed) throw rateLimited({ retryAfter: budget.retryAfterSeconds });
  if (password && (await ctx.hasher.verify(user.passwordHash, password))) {
    await ctx.reauthLimit.refund(user.id);
    return;
  }
  await ctx.store.recordAudit({ event: 'reauth_failed', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent }, ctx.clock.now());
  throw wrongPassword();
}

/** A new password ends every trusted device and every other session, and the user is e-mailed. */
export async function changePassword(ctx: FlowContext, active: ActiveSession, current: string, next: string, request: RequestInfo): Promise<void> {
  const { user } = active;
  await checkPassword(ctx, user, current, request);
  if (current === next) throw passwordReused();
  const hash = await ctx.hasher.hash(next);
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx: Store) => {
    await tx.updateUser(user.id, { passwordHash: hash, passwordChangeRequired: false }, now);
    await tx.revokeAllTrust(user.id, now);
    await tx.revokeUserSessions(user.id, now, active.session.id);
    // A sign-in that got past the old password must not finish with its code.
    await tx.expireOpenChallenges(user.id);
    await tx.enqueueMessage(
      { channel: 'email', template: PASSWORD_CHANGED_TEMPLATE, recipient: user.email, locale: user.locale, payload: { name: user.displayName, ip: request.ip, at: new Date(now).toISOString(), timeZone: user.timeZone } },
      now,
    );
    await tx.recordAudit({ event: 'password_changed', outcome: 'success', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { reason: 'user' } }, now);
  });
  ctx.messagesQueued();
}
