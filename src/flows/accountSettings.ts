// Settings a signed-in user changes about their own account.
import type { FlowContext, RequestInfo } from './context.js';
import { forbidden } from './errors.js';
import type { NotificationPreference, UserRecord } from './ports.js';
import type { ActiveSession } from './sessions.js';

/** Company-wide powers belong to authorized users whose personal data the operator verified. */
export function isVerifiedRepresentative(user: Pick<UserRecord, 'role' | 'personalDataVerifiedAt'>): boolean {
  return user.role === 'authorized' && user.personalDataVerifiedAt !== null;
}

export async function setNotificationPreference(ctx: FlowContext, active: ActiveSession, preference: NotificationPreference, request: RequestInfo): Promise<void> {
  if (!isVerifiedRepresentative(active.user)) throw forbidden();
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    await tx.updateUser(active.user.id, { notificationPreference: preference }, now);
    await tx.recordAudit({ event: 'notification_preference_changed', outcome: 'success', userId: active.user.id, companyId: active.user.companyId, ip: request.ip, userAgent: request.userAgent, detail: { preference } }, now);
  });
}
