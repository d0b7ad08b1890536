// "This wasn't me": ends the reported device's sessions, removes its trust, forces a password change, tells the representatives.
import { reportIdFromToken } from '../domain/reportToken.js';
import type { FlowContext, RequestInfo } from './context.js';
import { DoormanError } from './errors.js';
import type { AccountDeviceRecord, Locale, SignInReportRecord, UserRecord } from './ports.js';

export const SIGN_IN_REPORTED_COMPANY_TEMPLATE = 'sign-in-reported-company';

const reportNotFound = () => new DoormanError(404, 'report_not_found', 'This link is not valid.');
const reportUsed = () => new DoormanError(410, 'report_used', 'This link was already used.');
const reportExpired = () => new DoormanError(410, 'report_expired', 'This link has expired. Change your password and contact your company representative.');

export interface SignInReportView {
  report: SignInReportRecord;
  user: UserRecord;
  link: AccountDeviceRecord;
}

/** Looks the report up for its confirmation page; changes nothing (mail scanners open links). */
export async function findSignInReport(ctx: FlowContext, token: string): Promise<SignInReportView> {
  const id = reportIdFromToken(ctx.secret, token);
  if (!id) throw reportNotFound();
  const report = await ctx.store.findSignInReport(id);
  if (!report) throw reportNotFound();
  if (report.usedAt !== null) throw reportUsed();
  if (ctx.clock.now() >= report.expiresAt) throw reportExpired();
  const [user, link] = await Promise.all([ctx.store.findUserById(report.userId), ctx.store.findAccountDeviceById(report.accountDeviceId)]);
  if (!user || !link) throw reportNotFound();
  return { report, user, link };
}

/** The language of the account a report link belongs to, used or expired too: its pages speak the account's language. */
export async function reportAccountLocale(ctx: FlowContext, token: string): Promise<Locale | undefined> {
  const id = reportIdFromToken(ctx.secret, token);
  const report = id ? await ctx.store.findSignInReport(id) : undefined;
  return report ? (await ctx.store.findUserById(report.userId))?.locale : undefined;
}

export async function confirmSignInReport(ctx: FlowContext, token: string, request: RequestInfo): Promise<SignInReportView> {
  const view = await findSignInReport(ctx, token);
  const { report, user, link } = view;
  const now = ctx.clock.now();
  const used = await ctx.store.transaction(async (tx) => {
    if (!(await tx.useSignInReport(report.id, now))) return false;
    await tx.revokeSessionsOfAccountDevice(link.id, now);
    await tx.revokeAccountDevice(link.id, now);
    // A sign-in elsewhere still waiting for its code ends too: whoever was not the user has the password.
    await tx.expireOpenChallenges(user.id);
    // The next sign-in needs the code and a new password, whatever device it comes from.
    await tx.updateUser(user.id, { passwordChangeRequired: true }, now);
    await tx.recordAudit(
      { event: 'sign_in_reported', outcome: 'info', userId: user.id, companyId: user.companyId, ip: request.ip, userAgent: request.userAgent, deviceId: link.id, detail: { reportedIp: link.lastIp } },
      now,
    );
    for (const rep of await tx.listVerifiedRepresentatives(user.companyId)) {
      if (rep.id === user.id) continue;
      await tx.enqueueMessage(
        {
          channel: 'email',
          template: SIGN_IN_REPORTED_COMPANY_TEMPLATE,
          recipient: rep.email,
          locale: rep.locale,
          payload: { name: rep.displayName, employeeName: user.displayName, employeeEmail: user.email, at: new Date(link.lastSignInAt).toISOString(), ip: link.lastIp, userAgent: link.userAgent, timeZone: rep.timeZone },
        },
        now,
      );
    }
    return true;
  });
  if (!used) throw reportUsed();
  ctx.messagesQueued();
  return view;
}
