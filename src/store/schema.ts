// Table types for Kysely. Times are UTC epoch milliseconds; booleans are 0/1 integers on both databases.
import type { Generated } from 'kysely';

export interface CompaniesTable {
  id: string;
  name: string;
  createdAt: number;
  requireVerificationAt: number | null;
  trustedDeviceDays: number | null;
  smsAllowed: Generated<number>;
}

export interface UsersTable {
  id: string;
  companyId: string;
  email: string;
  emailNormalized: string;
  displayName: string;
  passwordHash: string;
  phone: string | null;
  locale: string;
  role: string;
  personalDataVerifiedAt: number | null;
  twoFactorEnabledAt: number | null;
  preferredChannel: string | null;
  emailVerifiedAt: number | null;
  phoneVerifiedAt: number | null;
  verificationLockedUntil: number | null;
  passwordChangeRequired: Generated<number>;
  notificationPreference: Generated<string>;
  timeZone: string | null;
  personalDataVerifiedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface DevicesTable {
  id: string;
  tokenHash: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface AccountDevicesTable {
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

export interface ChallengesTable {
  id: string;
  userId: string;
  deviceId: string;
  pendingTokenHash: string;
  openedAt: number;
  expiresAt: number;
  attempts: Generated<number>;
  consumedAt: number | null;
  ip: string;
  emailSentAt: number | null;
  smsSentAt: number | null;
}

export interface CodeFailuresTable {
  id: string;
  userId: string;
  at: number;
}

export interface SessionsTable {
  id: string;
  tokenHash: string;
  userId: string;
  accountDeviceId: string;
  createdAt: number;
  lastSeenAt: number;
  revokedAt: number | null;
  ip: string;
  userAgent: string;
  trusted: number;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  event: string;
  outcome: string;
  userId: string | null;
  companyId: string | null;
  ip: string | null;
  deviceId: string | null;
  userAgent: string | null;
  detail: string | null;
}

export interface OutboxTable {
  id: string;
  createdAt: number;
  channel: string;
  template: string;
  recipient: string;
  locale: string;
  payload: string;
  status: string;
  attempts: Generated<number>;
  nextAttemptAt: number;
  leasedUntil: number | null;
  sentAt: number | null;
  lastError: string | null;
}

export interface SignInReportsTable {
  id: string;
  userId: string;
  accountDeviceId: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface DigestEntriesTable {
  id: string;
  recipientId: string;
  createdAt: number;
  payload: string;
  sentAt: number | null;
}

export interface PhoneChangesTable {
  id: string;
  userId: string;
  phone: string;
  createdAt: number;
  expiresAt: number;
  attempts: Generated<number>;
  consumedAt: number | null;
  purpose: Generated<string>;
}

export interface SignInsTable {
  id: string;
  at: number;
  userId: string;
  companyId: string;
  accountDeviceId: string | null;
  ip: string;
  userAgent: string;
  outcome: string;
  newDevice: number;
  reason: string | null;
}

export interface Database {
  companies: CompaniesTable;
  users: UsersTable;
  devices: DevicesTable;
  accountDevices: AccountDevicesTable;
  challenges: ChallengesTable;
  codeFailures: CodeFailuresTable;
  sessions: SessionsTable;
  auditEvents: AuditEventsTable;
  outbox: OutboxTable;
  signInReports: SignInReportsTable;
  digestEntries: DigestEntriesTable;
  phoneChanges: PhoneChangesTable;
  signIns: SignInsTable;
}
