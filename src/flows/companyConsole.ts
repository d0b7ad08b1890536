// The company console: a verified authorized user sees and controls employees' devices, sessions, sign-ins and the company policy.
import { trustRule } from '../domain/devices.js';
import { checkPassword } from './accountSecurity.js';
import { isVerifiedRepresentative } from './accountSettings.js';
import type { FlowContext, RequestInfo } from './context.js';
import { companyNotFound, DoormanError, forbidden, notFound } from './errors.js';
import type { CompanyRecord, Page, SignInFilter, UserRecord } from './ports.js';
import type { ActiveSession } from './sessions.js';

/** Only a verified authorized user of the company may use the console. */
export function assertRepresentative(active: ActiveSession): void {
  if (!isVerifiedRepresentative(active.user)) throw forbidden();
}

/** An employee of the representative's own company; any other id answers 404, as if it did not exist. */
export async function findEmployee(ctx: FlowContext, active: ActiveSession, userId: string): Promise<UserRecord> {
  assertRepresentative(active);
  const employee = await ctx.store.findUserById(userId);
  if (!employee || employee.companyId !== active.user.companyId) throw notFound();
  return employee;
}

export async function listEmployees(ctx: FlowContext, active: ActiveSession, page: Page) {
  assertRepresentative(active);
  const [rows, total, company] = await Promise.all([
    ctx.store.listEmployees(active.user.companyId, page),
    ctx.store.countEmployees(active.user.companyId),
    ctx.store.findCompany(active.user.companyId),
  ]);
  return { rows, total, company };
}

export async function companySignIns(ctx: FlowContext, active: ActiveSession, filter: Omit<SignInFilter, 'companyId'>, page: Page) {
  assertRepresentative(active);
  if (filter.userId !== undefined) await findEmployee(ctx, active, filter.userId);
  const full = { ...filter, companyId: active.user.companyId };
  const [rows, total] = await Promise.all([ctx.store.listSignIns(full, page), ctx.store.countSignIns(full)]);
  return { rows, total };
}

export interface PolicyView {
  requireAuthorization: boolean;
  trustedDeviceDays: number;
  trustedDeviceDaysMax: number;
  smsAllowed: boolean;
}

export function encodePolicy(ctx: FlowContext, company: CompanyRecord): PolicyView {
  return {
    requireAuthorization: company.requireVerificationAt !== null,
    trustedDeviceDays: company.trustedDeviceDays ?? ctx.policy.trustedDeviceDays,
    trustedDeviceDaysMax: ctx.policy.trustedDeviceDays,
    smsAllowed: company.smsAllowed,
  };
}

export async function getPolicy(ctx: FlowContext, active: ActiveSession): Promise<PolicyView> {
  assertRepresentative(active);
  const company = await ctx.store.findCompany(active.user.companyId);
  if (!company) throw notFound();
  return encodePolicy(ctx, company);
}

export interface PolicyChanges {
  requireAuthorization?: boolean;
  trustedDeviceDays?: number;
  smsAllowed?: boolean;
}

export async function updatePolicy(
  ctx: FlowContext,
  active: ActiveSession,
  changes: PolicyChanges,
  request: RequestInfo,
  password?: string,
): Promise<PolicyView> {
  assertRepresentative(active);
  // Lifting the requirement lowers protection for every employee: it takes the representative's password.
  if (changes.requireAuthorization === false && active.company.requireVerificationAt !== null) {
    await checkPassword(ctx, active.user, password ?? '', request);
  }
  return applyCompanyPolicy(ctx, active.user.companyId, changes, { by: 'company', userId: active.user.id, sessionId: active.session.id, ip: request.ip, userAgent: request.userAgent });
}

/** Changes a company's policy, by its representative or by the operator; audited either way. */
export async function applyCompanyPolicy(
  ctx: FlowContext,
  companyId: string,
  changes: PolicyChanges,
  actor: { by: 'company' | 'operator'; userId?: string; sessionId?: string; ip?: string; userAgent?: string },
): Promise<PolicyView> {
  const company = await ctx.store.findCompany(companyId);
  if (!company) throw companyNotFound();
  const max = ctx.policy.trustedDeviceDays;
  if (changes.trustedDeviceDays !== undefined && (changes.trustedDeviceDays < 1 || changes.trustedDeviceDays > max)) {
    throw new DoormanError(400, 'invalid_request', `trustedDeviceDays must be between 1 and ${max}.`, { field: 'trustedDeviceDays', reason: 'trusted_device_days' });
  }
  const now = ctx.clock.now();
  const patch: Partial<Pick<CompanyRecord, 'requireVerificationAt' | 'trustedDeviceDays' | 'smsAllowed'>> = {};
  // Requiring authorization takes effect at once for every employee: no device is authorized from now on.
  if (changes.requireAuthorization !== undefined) patch.requireVerificationAt = changes.requireAuthorization ? (company.requireVerificationAt ?? now) : null;
  if (changes.trustedDeviceDays !== undefined) patch.trustedDeviceDays = changes.trustedDeviceDays === max ? null : changes.trustedDeviceDays;
  if (changes.smsAllowed !== undefined) patch.smsAllowed = changes.smsAllowed;
  await ctx.store.transaction(async (tx) => {
    await tx.updateCompany(company.id, patch);
    // Required from now on: employees signed in with the password alone are signed out (the
    // representative making the change stays signed in); those with authorization of their own keep their sessions.
    if (company.requireVerificationAt === null && patch.requireVerificationAt) await tx.revokeCompanySessionsWithoutAuthorization(company.id, now, actor.sessionId);
    await tx.recordAudit(
      {
        event: 'company_policy_changed',
        outcome: 'success',
        userId: actor.userId ?? null,
        companyId: company.id,
        ip: actor.ip ?? null,
        userAgent: actor.userAgent ?? null,
        detail: { by: actor.by, requireAuthorization: changes.requireAuthorization ?? null, trustedDeviceDays: changes.trustedDeviceDays ?? null, smsAllowed: changes.smsAllowed ?? null },
      },
      now,
    );
  });
  return encodePolicy(ctx, { ...company, ...patch });
}

/** One employee's page: the account, its devices (with when verification became required) and its last 50 sign-ins. */
export async function employeeDetail(ctx: FlowContext, active: ActiveSession, userId: string) {
  const employee = await findEmployee(ctx, active, userId);
  const [company, devices, signIns] = await Promise.all([
    ctx.store.findCompany(employee.companyId),
    ctx.store.listAccountDevices(employee.id),
    ctx.store.listSignIns({ userId: employee.id }, { offset: 0, limit: 50 }),
  ]);
  return {
    employee,
    devices,
    signIns,
    trust: trustRule(employee, company),
    companyRequires: company?.requireVerificationAt != null,
    lastSignInAt: signIns.find((s) => s.outcome === 'success')?.at ?? null,
  };
}
