// Finishes a sign-in inside the caller's transaction: device token rotation, account-device link, session, audit, notices.
import { isDeviceTrusted, trustLifetimeDays, trustRule, trustedUntil, type TrustRule } from '../domain/devices.js';
import { hashToken, newId, newToken } from '../domain/tokens.js';
import type { FlowContext, RequestInfo } from './context.js';
import { notifyNewDeviceSignIn } from './notifyNewDeviceSignIn.js';
import type { AccountDeviceRecord, CompanyRecord, SessionRecord, Store, UserRecord } from './ports.js';

export interface CompletedSignIn {
  user: UserRecord;
  session: SessionRecord;
  sessionToken: string;
  deviceToken: string;
  link: AccountDeviceRecord;
  newDevice: boolean;
  trust: TrustRule;
}

export interface CompleteSignInInput {
  user: UserRecord;
  company: CompanyRecord;
  /** The browser's device, if it already has one. */
  deviceId: string | null;
  request: RequestInfo;
  /** 'grant' when the user ticked "Trust this device"; 'keep' leaves existing trust as it is. */
  trust: 'grant' | 'keep';
  verified: boolean;
}

export async function completeSignIn(ctx: FlowContext, tx: Store, input: CompleteSignInInput): Promise<CompletedSignIn> {
  const now = ctx.clock.now();
  const { user, company, request } = input;

  // The device token rotates on every completed sign-in, so a copied old cookie is an unknown device.
  const deviceToken = newToken();
  let deviceId = input.deviceId;
  if (deviceId === null) {
    deviceId = newId();
    await tx.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now }, hashToken(deviceToken));
  } else {
    await tx.rotateDeviceToken(deviceId, hashToken(deviceToken), now);
  }

  const trustPatch =
    input.trust === 'grant'
      ? { trustedAt: now, trustedUntil: trustedUntil(now, trustLifetimeDays(ctx.policy.trustedDeviceDays, company.trustedDeviceDays)) }
      : {};
  // Updating returns the link if this account has signed in on this browser before.
  let link = await tx.updateAccountDevice(user.id, deviceId, { lastSignInAt: now, lastIp: request.ip, userAgent: request.userAgent, ...trustPatch });
  const newDevice = link === undefined;
  if (link === undefined) {
    link = {
      id: newId(),
      userId: user.id,
      deviceId,
      firstSignInAt: now,
      lastSignInAt: now,
      lastIp: request.ip,
      userAgent: request.userAgent,
      trustedAt: null,
      trustedUntil: null,
      revokedAt: null,
      ...trustPatch,
    };
    await tx.insertAccountDevice(link);
  }

  const trust = trustRule(user, company);
  const sessionToken = newToken();
  const session: SessionRecord = {
    id: newId(),
    userId: user.id,
    accountDeviceId: link.id,
    createdAt: now,
    lastSeenAt: now,
    revokedAt: null,
    ip: request.ip,
    userAgent: request.userAgent,
    trusted: isDeviceTrusted(link, trust.requiredSince ?? 0, now, trust.maxTrustDays),
  };
  await tx.insertSession(session, hashToken(sessionToken));

  await tx.recordAudit(
    {
      event: 'sign_in',
      outcome: 'success',
      userId: user.id,
      companyId: user.companyId,
      ip: request.ip, userAgent: request.userAgent,
      deviceId: link.id,
      detail: { newDevice, verified: input.verified, trusted: session.trusted },
    },
    now,
  );
  await tx.recordSignIn({
    id: newId(),
    at: now,
    userId: user.id,
    companyId: user.companyId,
    accountDeviceId: link.id,
    ip: request.ip,
    userAgent: request.userAgent,
    outcome: 'success',
    newDevice,
    reason: input.verified ? 'verified' : null,
  });
  if (newDevice) await notifyNewDeviceSignIn(tx, { user, link, at: now });

  return { user, session, sessionToken, deviceToken, link, newDevice, trust };
}
