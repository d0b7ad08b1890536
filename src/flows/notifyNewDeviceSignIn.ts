// Queues the e-mails about a sign-in from a new browser: to the user (with a "This wasn't me" link) and to the company's verified representatives.
import { REPORT_LINK_DAYS } from '../domain/reportToken.js';
import { DAY_MS } from '../domain/policy.js';
import { newId } from '../domain/tokens.js';
import type { AccountDeviceRecord, Store, UserRecord } from './ports.js';

export const NEW_DEVICE_TEMPLATE = 'new-device-sign-in';
export const NEW_DEVICE_COMPANY_TEMPLATE = 'new-device-sign-in-company';

export interface NewDeviceSignIn {
  user: UserRecord;
  link: AccountDeviceRecord;
  at: number;
}

export async function notifyNewDeviceSignIn(tx: Store, event: NewDeviceSignIn): Promise<void> {
  const { user, link, at } = event;
  const details = { at: new Date(at).toISOString(), ip: link.lastIp, userAgent: link.userAgent };

  // The link's token is derived from the report id by the dispatcher; only the id is stored.
  const reportId = newId();
  await tx.insertSignInReport({ id: reportId, userId: user.id, accountDeviceId: link.id, createdAt: at, expiresAt: at + REPORT_LINK_DAYS * DAY_MS, usedAt: null });
  await tx.enqueueMessage(
    {
      channel: 'email',
      template: NEW_DEVICE_TEMPLATE,
      recipient: user.email,
      locale: user.locale,
      payload: { ...details, name: user.displayName, timeZone: user.timeZone, reportId },
    },
    at,
  );

  // Representatives hear about every employee, but not twice about their own sign-in.
  const representatives = await tx.listVerifiedRepresentatives(user.companyId);
  for (const rep of representatives) {
    if (rep.id === user.id) continue;
    const about = { ...details, employeeName: user.displayName, employeeEmail: user.email };
    if (rep.notificationPreference === 'digest') {
      await tx.insertDigestEntry(rep.id, { ...about, companyId: user.companyId }, at);
      continue;
    }
    await tx.enqueueMessage(
      { channel: 'email', template: NEW_DEVICE_COMPANY_TEMPLATE, recipient: rep.email, locale: rep.locale, payload: { ...about, name: rep.displayName, timeZone: rep.timeZone } },
      at,
    );
  }
}
