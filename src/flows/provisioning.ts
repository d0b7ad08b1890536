// Creating companies and user accounts, and changing accounts (admin API and CLI).
import type { Channel } from '../domain/policy.js';
import { maskPhone } from '../domain/mask.js';
import { newId } from '../domain/tokens.js';
import type { FlowContext } from './context.js';
import { applyCompanyPolicy, type PolicyChanges, type PolicyView } from './companyConsole.js';
import { companyNotFound, emailTaken, userNotFound } from './errors.js';
import type { Locale, Role, UserPatch, UserRecord } from './ports.js';
import { PHONE_CHANGED_TEMPLATE } from './changePhone.js';
import { PASSWORD_CHANGED_TEMPLATE } from './verifyChallengeCode.js';

export async function createCompany(ctx: FlowContext, input: { name: string }): Promise<string> {
  const id = newId();
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.insertCompany({ id, name: input.name, createdAt: now, requireVerificationAt: null, trustedDeviceDays: null, smsAllowed: true });
    await tx.recordAudit({ event: 'company_created', outcome: 'success', companyId: id }, now);
  });
  return id;
}

export interface NewUser {
  email: string;
  password: string;
  name: string;
  companyId: string;
  role: Role;
  /** E.164, already validated. */
  phone?: string | null;
  locale?: Locale;
  twoFactor?: boolean;
  personalDataVerified?: boolean;
  /** IANA time zone, already validated; e-mails then show local time beside UTC. */
  timeZone?: string | null;
  /** Who verified the personal data (recorded with the time). */
  verifiedBy?: string;
}

export async function createUser(ctx: FlowContext, input: NewUser): Promise<string> {
  const passwordHash = await ctx.hasher.hash(input.password);
  const id = newId();
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    if (!(await tx.findCompany(input.companyId))) throw companyNotFound();
    if (await tx.findUserByEmail(input.email)) throw emailTaken();
    const user: UserRecord = {
      id,
      companyId: input.companyId,
      email: input.email,
      displayName: input.name,
      passwordHash,
      phone: input.phone ?? null,
      locale: input.locale ?? 'en',
      role: input.role,
      personalDataVerifiedAt: input.personalDataVerified ? now : null,
      twoFactorEnabledAt: input.twoFactor === false ? null : now,
      preferredChannel: null,
      emailVerifiedAt: null,
      phoneVerifiedAt: null,
      verificationLockedUntil: null,
      passwordChangeRequired: false,
      notificationPreference: 'immediate',
      timeZone: input.timeZone ?? null,
      personalDataVerifiedBy: input.personalDataVerified ? (input.verifiedBy ?? 'operator') : null,
      createdAt: now,
      updatedAt: now,
    };
    await tx.insertUser(user);
    await tx.recordAudit({ event: 'user_created', outcome: 'success', userId: id, companyId: input.companyId, detail: { role: input.role, twoFactor: user.twoFactorEnabledAt !== null } }, now);
  });
  return id;
}

export interface UserChanges {
  email?: string;
  password?: string;
  name?: string;
  role?: Role;
  phone?: string | null;
  locale?: Locale;
  twoFactor?: boolean;
  personalDataVerified?: boolean;
  timeZone?: string | null;
  verifiedBy?: string;
}

export async function updateUser(ctx: FlowContext, id: string, changes: UserChanges): Promise<void> {
  const passwordHash = changes.password !== undefined ? await ctx.hasher.hash(changes.password) : undefined;
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    const user = await tx.findUserById(id);
    if (!user) throw userNotFound();
    if (changes.email !== undefined) {
      const other = await tx.findUserByEmail(changes.email);
      if (other && other.id !== id) throw emailTaken();
    }
    const patch: UserPatch = {};
    if (changes.email !== undefined) Object.assign(patch, { email: changes.email, emailVerifiedAt: null });
    if (passwordHash !== undefined) patch.passwordHash = passwordHash;
    if (changes.name !== undefined) patch.displayName = changes.name;
    if (changes.role !== undefined) patch.role = changes.role;
    if (changes.locale !== undefined) patch.locale = changes.locale;
    if (changes.timeZone !== undefined) patch.timeZone = changes.timeZone;
    if (changes.phone !== undefined && changes.phone !== user.phone) {
      Object.assign(patch, { phone: changes.phone, phoneVerifiedAt: null });
      if (user.preferredChannel === ('sms' satisfies Channel)) patch.preferredChannel = null;
    }
    // Switching verification on de-authorizes every device from this moment; leaving it on changes nothing.
    if (changes.twoFactor !== undefined) patch.twoFactorEnabledAt = changes.twoFactor ? (user.twoFactorEnabledAt ?? now) : null;
    // A verification vouches for the name and address it saw: changing either ends it, unless the
    // same change verifies them again (then it is a new verification, of now).
    const identityChanged =
      (changes.name !== undefined && changes.name !== user.displayName) || (changes.email !== undefined && changes.email.toLowerCase() !== user.email.toLowerCase());
    if (changes.personalDataVerified === true) {
      const fresh = identityChanged || user.personalDataVerifiedAt === null;
      patch.personalDataVerifiedAt = fresh ? now : user.personalDataVerifiedAt;
      patch.personalDataVerifiedBy = fresh ? (changes.verifiedBy ?? 'operator') : user.personalDataVerifiedBy;
    } else if (changes.personalDataVerified === false || (identityChanged && user.personalDataVerifiedAt !== null)) {
      patch.personalDataVerifiedAt = null;
      patch.personalDataVerifiedBy = null;
    }
    await tx.updateUser(id, patch, now);
    // Switched on by the operator: the sessions begun with the password alone end with the authorization of their browsers.
    // (Under a company requirement nothing changes: every session was begun with a code or a trusted device.)
    if (user.twoFactorEnabledAt === null && patch.twoFactorEnabledAt && (await tx.findCompany(user.companyId))?.requireVerificationAt == null) await tx.revokeUserSessions(id, now);
    if (patch.phone !== undefined) {
      // A new or removed phone number is reported to the account's address, whoever changed it.
      await tx.enqueueMessage(
        {
          channel: 'email',
          template: PHONE_CHANGED_TEMPLATE,
          recipient: changes.email ?? user.email,
          locale: changes.locale ?? user.locale,
          payload: { name: changes.name ?? user.displayName, phone: patch.phone === null ? null : maskPhone(patch.phone), ip: null, at: new Date(now).toISOString(), timeZone: user.timeZone },
        },
        now,
      );
    }
    if (passwordHash !== undefined) {
      // A new password ends every trusted device and every session, and the user hears of it.
      await tx.revokeAllTrust(id, now);
      await tx.revokeUserSessions(id, now);
      await tx.expireOpenChallenges(id);
      await tx.enqueueMessage(
        {
          channel: 'email',
          template: PASSWORD_CHANGED_TEMPLATE,
          recipient: changes.email ?? user.email,
          locale: changes.locale ?? user.locale,
          payload: { name: changes.name ?? user.displayName, ip: null, at: new Date(now).toISOString(), timeZone: user.timeZone },
        },
        now,
      );
    }
    await tx.recordAudit(
      { event: 'user_updated', outcome: 'success', userId: id, companyId: user.companyId, detail: { fields: Object.keys(changes).sort().join(',') } },
      now,
    );
  });
  if (passwordHash !== undefined || changes.phone !== undefined) ctx.messagesQueued();
}

/** The operator's switch of a company's policy (the same rules as the company console). */
export function setCompanyPolicy(ctx: FlowContext, companyId: string, changes: PolicyChanges): Promise<PolicyView> {
  return applyCompanyPolicy(ctx, companyId, changes, { by: 'operator' });
}
