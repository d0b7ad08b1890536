// Rows of the sign-in log that users and representatives read: every attempt on a known account.
import { newId } from '../domain/tokens.js';
import type { RequestInfo } from './context.js';
import type { Store, UserRecord } from './ports.js';

export async function recordFailedSignIn(store: Store, user: UserRecord, request: RequestInfo, at: number, reason: string): Promise<void> {
  await store.recordSignIn({
    id: newId(),
    at,
    userId: user.id,
    companyId: user.companyId,
    accountDeviceId: null,
    ip: request.ip,
    userAgent: request.userAgent,
    outcome: 'failure',
    newDevice: false,
    reason,
  });
}
