// The interfaces flows use to reach storage, delivery, password hashing and the clock.
import type { Channel } from '../domain/policy.js';

export type Locale = 'en' | 'pl';
export type Role = 'employee' | 'authorized';
export type NotificationPreference = 'immediate' | 'digest';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface CompanyRecord {
  id: string;
  name: string;
  createdAt: number;
  requireVerificationAt: number | null;
  trustedDeviceDays: number | null;
  smsAllowed: boolean;
}

export interface UserRecord {
  id: string;
  companyId: string;
  email: string;
  displayName: string;
  passwordHash: string;
  phone: string | null;
  locale: Locale;
  role: Role;
  personalDataVerifiedAt: number | null;
  twoFactorEnabledAt: number | null;
  preferredChannel: Channel | null;
  emailVerifiedAt: number | null;
  phoneVerifiedAt: number | null;
  verificationLockedUntil: number | null;
  passwordChangeRequired: boolean;
  notificationPreference: NotificationPreference;
  timeZone: string | null;
  personalDataVerifiedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface DeviceRecord {
  id: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface AccountDeviceRecord {
  id: string;
  userId: string;
  deviceId: string;
  firstSignInAt: number;
  lastSignInAt: number;
  lastIp: string;
  userAgent: string;
  trustedAt: number | null;
  trustedUntil: number | null;
  revokedAt: number | null;
}

export interface ChallengeRecord {
  id: string;
  userId: string;
  deviceId: string;
  openedAt: number;
  expiresAt: number;
  attempts: number;
  consumedAt: number | null;
  ip: string;
  emailSentAt: number | null;
  smsSentAt: number | null;
}

export interface SessionRecord {
  id: string;
  userId: string;
  accountDeviceId: string;
  createdAt: number;
  lastSeenAt: number;
  revokedAt: number | null;
  ip: string;
  userAgent: string;
  trusted: boolean;
}

export interface SignInReportRecord {
  id: string;
  userId: string;
  accountDeviceId: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface DigestBatch {
  recipientId: string;
  entries: Record<string, string>[];
}

export interface AuditEvent {
  event: string;
  outcome: 'success' | 'failure' | 'info';
  userId?: string | null;
  companyId?: string | null;
  ip?: string | null;
  /** The account's device link, where the event concerns one. */
  deviceId?: string | null;
  /** The browser's User-Agent, for every event a request caused. */
  userAgent?: string | null;
  detail?: Record<string, string | number | boolean | null>;
}

export interface OutgoingMessage {
  channel: Channel;
  template: string;
  recipient: string;
  locale: Locale;
  /** Never a code, password or token in clear: the dispatcher derives codes from the challenge id. */
  payload: Record<string, string | number | boolean | null>;
}

export interface QueuedMessage extends OutgoingMessage {
  id: string;
  createdAt: number;
  attempts: number;
}

export type UserPatch = Partial<
  Pick<
    UserRecord,
    | 'email'
    | 'displayName'
    | 'passwordHash'
    | 'phone'
    | 'locale'
    | 'role'
    | 'personalDataVerifiedAt'
    | 'twoFactorEnabledAt'
    | 'preferredChannel'
    | 'emailVerifiedAt'
    | 'phoneVerifiedAt'
    | 'passwordChangeRequired'
    | 'notificationPreference'
    | 'timeZone'
    | 'personalDataVerifiedBy'
  >
>;

export interface CompanyStore {
  insertCompany(company: CompanyRecord): Promise<void>;
  findCompany(id: string): Promise<CompanyRecord | undefined>;
  updateCompany(id: string, patch: Partial<Pick<CompanyRecord, 'requireVerificationAt' | 'trustedDeviceDays' | 'smsAllowed'>>): Promise<void>;
}

export interface SignInRecord {
  id: string;
  at: number;
  userId: string;
  companyId: string;
  accountDeviceId: string | null;
  ip: string;
  userAgent: string;
  outcome: 'success' | 'failure';
  newDevice: boolean;
  reason: string | null;
}

export interface SignInFilter {
  companyId?: string;
  userId?: string;
  from?: number;
  to?: number;
  newDevicesOnly?: boolean;
}

export interface Page {
  offset: number;
  limit: number;
}

export interface EmployeeSummary {
  user: UserRecord;
  lastSignInAt: number | null;
}

export interface SignInStore {
  recordSignIn(row: SignInRecord): Promise<void>;
  /** Newest first. */
  listSignIns(filter: SignInFilter, page: Page): Promise<(SignInRecord & { userEmail: string; userName: string })[]>;
  countSignIns(filter: SignInFilter): Promise<number>;
}

export interface DirectoryStore {
  listEmployees(companyId: string, page: Page): Promise<EmployeeSummary[]>;
  countEmployees(companyId: string): Promise<number>;
  listAccountDevices(userId: string): Promise<AccountDeviceRecord[]>;
  listActiveSessions(userId: string, since: number): Promise<SessionRecord[]>;
  findSession(id: string): Promise<SessionRecord | undefined>;
}

export interface UserStore {
  insertUser(user: UserRecord): Promise<void>;
  updateUser(id: string, patch: UserPatch, now: number): Promise<void>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  /** The account behind an e-mail with its company, in one read (the first step of every sign-in). */
  findAccountByEmail(email: string): Promise<{ user: UserRecord; company: CompanyRecord } | undefined>;
  /** Authorized users of the company whose personal data the operator verified. */
  listVerifiedRepresentatives(companyId: string): Promise<UserRecord[]>;
}

export interface DeviceStore {
  insertDevice(device: DeviceRecord, tokenHash: string): Promise<void>;
  /**
   * Registers a browser under the token its cookie already holds (the login page hands one out), or,
   * when a concurrent request has just registered it, finds that device; returns the device id.
   */
  adoptDevice(device: DeviceRecord, tokenHash: string): Promise<string>;
  /** Replaces the device token; the old one then matches nothing. */
  rotateDeviceToken(deviceId: string, tokenHash: string, now: number): Promise<void>;
  /** The browser behind a device token and, if this account has signed in on it, their link, in one read. */
  /** The account an address names with the link of the browser behind a device token to it, in one query. */
  findAccountWithBrowser(email: string, deviceTokenHash: string): Promise<{ user: UserRecord; company: CompanyRecord; link: AccountDeviceRecord | undefined } | undefined>;
  findDeviceForAccount(tokenHash: string, userId: string): Promise<{ device: DeviceRecord; link: AccountDeviceRecord | undefined } | undefined>;
  findAccountDeviceById(id: string): Promise<AccountDeviceRecord | undefined>;
  insertAccountDevice(link: AccountDeviceRecord): Promise<void>;
  /** Removes the device's authorization and trust for this account. */
  revokeAccountDevice(id: string, now: number): Promise<void>;
  /** Removes trust from every device of the account. */
  revokeAllTrust(userId: string, now: number): Promise<void>;
  /**
   * Ends every sign-in of the account still waiting for its code (a new password voids them): each
   * expires at the epoch, so no instance's clock, however far behind, still finds it open.
   */
  expireOpenChallenges(userId: string): Promise<void>;
  /** Updates the link between this account and browser, if there is one, and returns it as it now is. */
  updateAccountDevice(
    userId: string,
    deviceId: string,
    patch: Partial<Pick<AccountDeviceRecord, 'lastSignInAt' | 'lastIp' | 'userAgent' | 'trustedAt' | 'trustedUntil' | 'revokedAt'>>,
  ): Promise<AccountDeviceRecord | undefined>;
}

export interface NotificationStore {
  insertSignInReport(report: SignInReportRecord): Promise<void>;
  findSignInReport(id: string): Promise<SignInReportRecord | undefined>;
  /** Atomically marks the report used while unused and unexpired; false if it was not. */
  useSignInReport(id: string, now: number): Promise<boolean>;
  insertDigestEntry(recipientId: string, entry: Record<string, string>, now: number): Promise<void>;
  /** Atomically takes every unsent digest entry, grouped by recipient. */
  takePendingDigestEntries(now: number): Promise<DigestBatch[]>;
}

/** What a code sent for an account setting confirms: a new phone number, or switching verification off. */
export type ConfirmationPurpose = 'phone' | 'disable_authorization';

export interface PhoneChangeRecord {
  purpose?: ConfirmationPurpose;
  id: string;
  userId: string;
  phone: string;
  createdAt: number;
  expiresAt: number;
  attempts: number;
  consumedAt: number | null;
}

export interface PhoneChangeStore {
  insertPhoneChange(change: PhoneChangeRecord): Promise<void>;
  /** The newest change of the user that is neither used nor expired. */
  findOpenPhoneChange(userId: string, now: number, purpose?: ConfirmationPurpose): Promise<PhoneChangeRecord | undefined>;
  addPhoneChangeAttempt(id: string, maxAttempts: number): Promise<number | undefined>;
  consumePhoneChange(id: string, now: number, maxAttempts: number): Promise<boolean>;
}

export interface ChallengeStore {
  findOpenChallenge(userId: string, deviceId: string, now: number): Promise<ChallengeRecord | undefined>;
  insertChallenge(challenge: ChallengeRecord, pendingTokenHash: string): Promise<void>;
  setChallengePendingToken(id: string, pendingTokenHash: string): Promise<void>;
  /**
   * The challenge named by a pending-login token, with its account and company, in one read; only
   * when the device token names the browser the challenge was opened for.
   */
  findPendingChallenge(
    pendingTokenHash: string,
    deviceTokenHash: string,
  ): Promise<{ challenge: ChallengeRecord; user: UserRecord; company: CompanyRecord } | undefined>;
  findChallenge(id: string): Promise<ChallengeRecord | undefined>;
  /** Atomically records a send on `channel` if its cooldown has passed and the challenge is still open. */
  claimChallengeSend(id: string, channel: Channel, now: number, cooldownMs: number): Promise<ChallengeRecord | undefined>;
  /** Gives a claimed send back (sets the channel's last send to what it was), inside the claiming transaction. */
  restoreChallengeSend(id: string, channel: Channel, sentAt: number | null): Promise<void>;
  /** Atomically counts a wrong code while attempts < max; undefined when the cap was already reached. */
  addChallengeAttempt(id: string, maxAttempts: number): Promise<number | undefined>;
  /** Atomically marks the challenge used, once, while it is open; false if another request got there first. */
  consumeChallenge(id: string, now: number, maxAttempts: number): Promise<boolean>;
  insertCodeFailure(userId: string, at: number): Promise<void>;
  countCodeFailures(userId: string, since: number): Promise<number>;
  /** Sets the verification lock unless one is already in force; true when this call set it. */
  lockVerification(userId: string, until: number, now: number): Promise<boolean>;
  /**
   * Holds the account's row for the rest of the transaction if verification is not locked, so
   * concurrent code checks for one account run one after another; false when it is locked.
   */
  holdUnlockedAccount(userId: string, now: number): Promise<boolean>;
  /**
   * Holds the account row (until the transaction ends) if its password hash is still the given one:
   * a sign-in checked against a hash that has since been replaced must not go on.
   */
  /** Holds the account row if its hash is still `passwordHash` (and, with `authorizationOff`, authorization is still off). */
  holdPassword(userId: string, passwordHash: string, authorizationOff?: boolean): Promise<boolean>;
  /** Holds the company row if it still does not require authorization (a switch-on waits for, or is seen by, this transaction). */
  holdCompanyWithoutRequirement(companyId: string): Promise<boolean>;
  /** Replaces the password hash only if it is still the given one (a rehash never undoes a change). */
  replacePasswordHash(userId: string, previous: string, next: string, now: number): Promise<void>;
  /** Holds the device's row for the rest of the transaction (one challenge per account and browser). */
  holdDevice(deviceId: string, now: number): Promise<void>;
}

export interface SessionContext {
  session: SessionRecord;
  user: UserRecord;
  link: AccountDeviceRecord;
  company: CompanyRecord;
}

export interface SessionStore {
  insertSession(session: SessionRecord, tokenHash: string): Promise<void>;
  /** The session with its user, device link and company, in one read (the hot path of every request). */
  findSessionContext(tokenHash: string): Promise<SessionContext | undefined>;
  touchSession(id: string, now: number): Promise<void>;
  revokeSession(id: string, now: number): Promise<void>;
  /** Ends the session behind a cookie if it is the given user's (a browser signing in again replaces its session). */
  revokeSessionByToken(tokenHash: string, userId: string, now: number): Promise<void>;
  revokeSessionsOfAccountDevice(accountDeviceId: string, now: number): Promise<void>;
  /** Ends every session of the user except `keepSessionId`. */
  revokeUserSessions(userId: string, now: number, keepSessionId?: string): Promise<void>;
  /** Ends the sessions of the company's accounts that have no account authorization of their own. */
  revokeCompanySessionsWithoutAuthorization(companyId: string, now: number, keepSessionId?: string): Promise<void>;
}

export interface AuditStore {
  recordAudit(event: AuditEvent, at: number): Promise<void>;
}

export interface OutboxStore {
  enqueueMessage(message: OutgoingMessage, now: number): Promise<string>;
  claimDueMessages(now: number, leaseMs: number, limit: number): Promise<QueuedMessage[]>;
  markMessageSent(id: string, now: number): Promise<void>;
  markMessageFailed(id: string, nextAttemptAt: number, error: string, dead: boolean): Promise<void>;
  /** A message that no longer has a point (a code past its expiry) is closed without sending. */
  markMessageLapsed(id: string, now: number): Promise<void>;
  /** Messages given up on, or failing and waiting for a retry: what an operator should look at. */
  listStuckMessages(limit: number): Promise<StuckMessage[]>;
  /** Puts a dead or waiting message back in line for delivery now. */
  retryMessage(id: string, now: number): Promise<boolean>;
}

export interface StuckMessage {
  id: string;
  createdAt: number;
  channel: Channel;
  template: string;
  recipient: string;
  status: string;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

export interface Store extends CompanyStore, UserStore, DeviceStore, ChallengeStore, SessionStore, AuditStore, OutboxStore, NotificationStore, PhoneChangeStore, SignInStore, DirectoryStore {
  /** Runs `work` in one database transaction; everything it writes commits together or not at all. */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
}

/** `confirmationResend`: one code per confirmation purpose and account per re-send cooldown. */
export type SendLimitName = 'emailPerAccountHour' | 'emailPerAccountDay' | 'smsPerAccountHour' | 'smsPerAccountDay' | 'smsPerNumberDay' | 'smsPerIpHour' | 'confirmationResend';
export type SendLimitKey = readonly [SendLimitName, string];
export type SendLimitDecision = { allowed: true } | { allowed: false; limit: SendLimitName; retryAfterSeconds: number };

/** Budgets for sending codes, shared by all instances. */
export interface SendLimits {
  /**
   * Counts one send against every budget in `keys` first, so parallel requests cannot all pass a
   * check; when one budget is spent nothing stays counted and the decision names it.
   */
  consume(keys: readonly SendLimitKey[]): Promise<SendLimitDecision>;
  /** Gives a counted send back (it did not happen after all). */
  refund(keys: readonly SendLimitKey[]): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against the hash, or against a dummy hash when `hash` is undefined, taking the same time. */
  verify(hash: string | undefined, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

export interface RenderedMessage {
  subject?: string;
  text: string;
  html?: string;
}

/**
 * Delivers one rendered message; throws when the peer did not accept it. An error with
 * `permanent: true` (the peer refused this message for good) is not retried.
 */
export interface MessageTransport {
  send(message: QueuedMessage, rendered: RenderedMessage): Promise<void>;
}

export interface MessageRenderer {
  render(message: QueuedMessage, extras: Record<string, string>): RenderedMessage;
}
