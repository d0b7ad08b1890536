// Queues the e-mails about a sign-in from a new browser: to the user, and to the company's verified representatives.
import type { AccountDeviceRecord, Store, UserRecord } from './ports.js';

export interface NewDeviceSignIn {
  user: UserRecord;
  link: AccountDeviceRecord;
  at: number;
}

export async function notifyNewDeviceSignIn(tx: Store, event: NewDeviceSignIn): Promise<void> {
  const { user, link, at } = event;
  const details = {
    at: new Date(at).toISOString(),
    ip: link.lastIp,
    userAgent: link.userAgent,
    accountDeviceId: link.id,
  };
  await tx.enqueueMessage(
    { channel: 'email', template: 'new-device-sign-in', recipient: user.email, locale: user.locale, payload: { ...details, name: user.displayName } },
    at,
  );
  // The representative hears about every employee, but not twice about their own sign-in.
  const representatives = await tx.listVerifiedRepresentatives(user.companyId);
  for (const rep of representatives) {
    if (rep.id === user.id) continue;
    await tx.enqueueMessage(
      {
        channel: 'email',
        template: 'new-device-sign-in-company',
        recipient: rep.email,
        locale: rep.locale,
        payload: { ...details, name: rep.displayName, employeeName: user.displayName, employeeEmail: user.email },
      },
      at,
    );
  }
}
