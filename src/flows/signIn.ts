// Password sign-in: either completes at once (no verification needed here) or opens or reuses the browser's challenge.
import { challengeExpiresAt, firstChannel } from '../domain/challenge.js';
import { needsVerification, verificationRequiredSince } from '../domain/devices.js';
import { isVerificationLocked } from '../domain/lockout.js';
import { pendingTokenFor } from '../domain/pendingToken.js';
import { isSessionActive } from '../domain/sessions.js';
import { hashToken, isTokenShaped, newId, newToken } from '../domain/tokens.js';
import { availableChannels, encodeChallengeView, type ChallengeView } from './challengeView.js';
import { completeSignIn, type CompletedSignIn } from './completeSignIn.js';
import type { FlowContext, RequestInfo } from './context.js';
import { invalidCredentials, verificationLockedUntil } from './errors.js';
import { smsFor } from './pendingChallenge.js';
import { recordFailedSignIn } from './signInLog.js';
import { queueChallengeCode } from './sendChallengeCode.js';
import type { ChallengeRecord, Store } from './ports.js';

export interface SignInInput {
  email: string;
  password: string;
  deviceToken: string | undefined;
  /** The browser's session cookie, if any: a live session of this account on this browser authorizes it. */
  sessionToken?: string | undefined;
  request: RequestInfo;
}

export type SignInResult =
  | ({ status: 'authenticated' } & CompletedSignIn)
  | {
      status: 'verification_required';
      challenge: ChallengeView;
      pendingToken: string;
      /** Set when this browser had no device yet; the caller stores it in the device cookie. */
      deviceToken: string | null;
      expiresAt: number;
    };

export async function signIn(ctx: FlowContext, input: SignInInput, startedOver = false): Promise<SignInResult> {
  const { store, hasher, clock } = ctx;
  const account = await store.findAccountByEmail(input.email);
  const user = account?.user;
  // Unknown e-mail and wrong password take the same path and time: the hasher checks a dummy hash.
  const passwordOk = await hasher.verify(user?.passwordHash, input.password);
  const now = clock.now();
  if (!user || !passwordOk) {
    await store.transaction(async (tx) => {
      await tx.recordAudit(
        { event: 'sign_in', outcome: 'failure', userId: user?.id ?? null, companyId: user?.companyId ?? null, ip: input.request.ip, userAgent: input.request.userAgent, detail: { reason: 'invalid_credentials' } },
        now,
      );
      if (user) await recordFailedSignIn(tx, user, input.request, now, 'invalid_password');
    });
    throw invalidCredentials();
  }
  if (hasher.needsRehash(user.passwordHash)) {
    const passwordHash = await hasher.hash(input.password);
    await store.replacePasswordHash(user.id, user.passwordHash, passwordHash, now);
  }

  const company = account.company;
  const known = isTokenShaped(input.deviceToken) ? await store.findDeviceForAccount(hashToken(input.deviceToken), user.id) : undefined;
  const device = known?.device;
  const link = known?.link;
  const requiredSince = verificationRequiredSince(user.twoFactorEnabledAt, company.requireVerificationAt);

  const trusted = !needsVerification(requiredSince, link, now, company.trustedDeviceDays);
  // An untrusted browser signed in to this account right now is authorized for its login session:
  // signing in again there needs no code. The session it had ends; a fresh one is issued. (Looked
  // up only when the browser is not trusted, so a trusted sign-in makes no extra query.)
  const liveSessionId = !trusted && requiredSince !== null && link && !user.passwordChangeRequired ? await liveSessionOf(ctx, input.sessionToken, link.id, requiredSince, now) : undefined;
  // After "This wasn't me" every sign-in needs the code (and a new password), trusted device or not.
  if (!user.passwordChangeRequired && (trusted || liveSessionId !== undefined)) {
    const done = await store.transaction(async (tx) => {
      // The password was checked against the hash read before; if it has changed since, this sign-in ends
      // here. Without a code, only while authorization is still off: a switch-on that committed meanwhile
      // is seen here (the sign-in starts over, under it), and one that comes later waits for this
      // transaction and then ends the session it made.
      const off = requiredSince === null;
      if (!(await tx.holdPassword(user.id, user.passwordHash, off))) {
        if (off) return 'changed' as const;
        throw invalidCredentials();
      }
      if (off && !(await tx.holdCompanyWithoutRequirement(company.id))) return 'changed' as const;
      // The browser's session of this account, if it had one, is replaced by the new one.
      if (liveSessionId !== undefined) await tx.revokeSession(liveSessionId, now);
      else if (isTokenShaped(input.sessionToken)) await tx.revokeSessionByToken(hashToken(input.sessionToken), user.id, now);
      return completeSignIn(ctx, tx, { user, company, deviceId: device?.id ?? null, request: input.request, trust: 'keep', verified: false });
    });
    if (done === 'changed') {
      if (startedOver) throw invalidCredentials();
      return signIn(ctx, input, true);
    }
    // Only a new device queues a notice; a known one leaves the outbox alone.
    if (done.newDevice) ctx.messagesQueued();
    return { status: 'authenticated', ...done };
  }

  if (isVerificationLocked(user.verificationLockedUntil, now)) {
    await store.transaction(async (tx) => {
      await tx.recordAudit({ event: 'sign_in', outcome: 'failure', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { reason: 'verification_locked' } }, now);
      await recordFailedSignIn(tx, user, input.request, now, 'verification_locked');
    });
    throw verificationLockedUntil(user.verificationLockedUntil, now);
  }

  const opened = await store.transaction(async (tx) => {
    // As above: a password changed since it was checked opens no challenge (a change voids the open ones).
    if (!(await tx.holdPassword(user.id, user.passwordHash))) throw invalidCredentials();
    let deviceId = device?.id ?? null;
    let deviceToken: string | null = null;
    if (deviceId === null && isTokenShaped(input.deviceToken)) {
      // A browser whose cookie holds a token not yet registered (handed out by the login page, or an
      // old rotated one): registered under it, so a double-clicked "Log in" from a new browser
      // opens one challenge, not two with different codes. It is a new device all the same.
      deviceId = await tx.adoptDevice({ id: newId(), createdAt: now, lastSeenAt: now }, hashToken(input.deviceToken));
    }
    if (deviceId === null) {
      deviceId = newId();
      deviceToken = newToken();
      await tx.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now }, hashToken(deviceToken));
    } else {
      // Two sign-ins from one browser at once must not open two challenges (two codes).
      await tx.holdDevice(deviceId, now);
    }
    // One challenge per (account, browser) while it lives: signing in again reuses it, same code, nothing sent.
    let challenge: ChallengeRecord | undefined = await tx.findOpenChallenge(user.id, deviceId, now);
    if (challenge) {
      // Its token is the one handed out before, so replies that cross leave the browser a working cookie.
      // (Written again for a challenge opened by a version that drew its tokens at random.)
      await tx.setChallengePendingToken(challenge.id, hashToken(pendingTokenFor(ctx.secret, challenge.id)));
    } else {
      const id = newId();
      challenge = {
        id,
        userId: user.id,
        deviceId,
        openedAt: now,
        expiresAt: challengeExpiresAt(now, ctx.policy),
        attempts: 0,
        consumedAt: null,
        ip: input.request.ip,
        emailSentAt: null,
        smsSentAt: null,
      };
      await tx.insertChallenge(challenge, hashToken(pendingTokenFor(ctx.secret, id)));
      const channel = firstChannel(user.preferredChannel, availableChannels(user, smsFor(ctx, company)));
      challenge = (await sendFirstCode(ctx, tx, { now, challenge, user, channel, request: input.request })) ?? challenge;
      await tx.recordAudit(
        { event: 'challenge_opened', outcome: 'info', userId: user.id, companyId: user.companyId, ip: input.request.ip, userAgent: input.request.userAgent, detail: { channel } },
        now,
      );
    }
    return { challenge, deviceToken };
  });
  ctx.messagesQueued();
  return {
    status: 'verification_required',
    challenge: encodeChallengeView(opened.challenge, user, ctx.policy, smsFor(ctx, company)),
    pendingToken: pendingTokenFor(ctx.secret, opened.challenge.id),
    deviceToken: opened.deviceToken,
    expiresAt: opened.challenge.expiresAt,
  };
}

/**
 * Whether the browser behind this device cookie is trusted by the account the e-mail names, so
 * that failed passwords sent from elsewhere cannot lock it out (its own failures still count).
 */
export async function isTrustedBrowser(ctx: FlowContext, email: string, deviceToken: string | undefined): Promise<boolean> {
  if (!isTokenShaped(deviceToken)) return false;
  // One query, so the time of the answer says nothing about whether the address has an account.
  const found = await ctx.store.findAccountWithBrowser(email, hashToken(deviceToken));
  if (!found?.link) return false;
  const requiredSince = verificationRequiredSince(found.user.twoFactorEnabledAt, found.company.requireVerificationAt);
  // Only a browser trust was given to: with account authorization off every browser would pass the check below.
  return found.link.trustedAt !== null && !needsVerification(requiredSince ?? 0, found.link, ctx.clock.now(), found.company.trustedDeviceDays);
}

/**
 * The id of the live session behind this cookie when it belongs to the given account-device link and
 * began once verification was required: a session from before account authorization was switched on
 * authorizes nothing (from that moment no device is authorized without a code).
 */
async function liveSessionOf(ctx: FlowContext, sessionToken: string | undefined, linkId: string, requiredSince: number, now: number): Promise<string | undefined> {
  if (!isTokenShaped(sessionToken)) return undefined;
  const found = await ctx.store.findSessionContext(hashToken(sessionToken));
  if (!found || found.link.id !== linkId || found.session.createdAt <= requiredSince || !isSessionActive(found.session, now, ctx.policy)) return undefined;
  return found.session.id;
}

/**
 * The code goes out on opening; when that channel's sending budget is spent, e-mail is tried
 * instead, and when that is spent too the challenge opens without a send (the user may ask later).
 */
async function sendFirstCode(ctx: FlowContext, tx: Store, input: Parameters<typeof queueChallengeCode>[2]): Promise<ChallengeRecord | undefined> {
  const channels = input.channel === 'email' ? (['email'] as const) : ([input.channel, 'email'] as const);
  for (const channel of channels) {
    const result = await queueChallengeCode(ctx, tx, { ...input, channel });
    if (result.status === 'sent') return result.challenge;
  }
  return undefined;
}
