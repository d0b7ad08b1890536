// The Store of flows/ports.ts on Kysely; identical SQL for SQLite and PostgreSQL except where noted.
import { CompiledQuery, sql, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import type { Channel } from '../domain/policy.js';
import { newId } from '../domain/tokens.js';
import type {
  AccountDeviceRecord,
  AuditEvent,
  ChallengeRecord,
  CompanyRecord,
  DeviceRecord,
  Locale,
  OutgoingMessage,
  QueuedMessage,
  DigestBatch,
  ConfirmationPurpose,
  EmployeeSummary,
  NotificationPreference,
  Page,
  PhoneChangeRecord,
  SessionContext,
  SignInFilter,
  SignInRecord,
  Role,
  SessionRecord,
  SignInReportRecord,
  StuckMessage,
  Store,
  UserPatch,
  UserRecord,
} from '../flows/ports.js';
import type { DatabaseKind, OpenDatabase } from './db.js';
import { LookupBatch } from './lookupBatch.js';
import { domainToASCII } from 'node:url';
import type { AccountDevicesTable, CompaniesTable, Database, UsersTable } from './schema.js';

const bool = (value: boolean) => (value ? 1 : 0);

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    companyId: row.companyId,
    email: row.email,
    displayName: row.displayName,
    passwordHash: row.passwordHash,
    phone: row.phone,
    locale: row.locale as Locale,
    role: row.role as Role,
    personalDataVerifiedAt: row.personalDataVerifiedAt,
    twoFactorEnabledAt: row.twoFactorEnabledAt,
    preferredChannel: row.preferredChannel as Channel | null,
    emailVerifiedAt: row.emailVerifiedAt,
    phoneVerifiedAt: row.phoneVerifiedAt,
    verificationLockedUntil: row.verificationLockedUntil,
    passwordChangeRequired: row.passwordChangeRequired === 1,
    notificationPreference: row.notificationPreference as NotificationPreference,
    timeZone: row.timeZone,
    personalDataVerifiedBy: row.personalDataVerifiedBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

interface SessionContextRow extends Selectable<UsersTable> {
  /** PostgreSQL only. */
  sTokenHash?: string;
  sId: string;
  sCreatedAt: number;
  sLastSeenAt: number;
  sRevokedAt: number | null;
  sIp: string;
  sUserAgent: string;
  sTrusted: number;
  dId: string;
  dDeviceId: string;
  dFirstSignInAt: number;
  dLastSignInAt: number;
  dLastIp: string;
  dUserAgent: string;
  dTrustedAt: number | null;
  dTrustedUntil: number | null;
  dRevokedAt: number | null;
  cName: string;
  cCreatedAt: number;
  cRequireVerificationAt: number | null;
  cTrustedDeviceDays: number | null;
  cSmsAllowed: number;
}

const USER_COLUMNS = [
  'id',
  'companyId',
  'email',
  'emailNormalized',
  'displayName',
  'passwordHash',
  'phone',
  'locale',
  'role',
  'personalDataVerifiedAt',
  'twoFactorEnabledAt',
  'preferredChannel',
  'emailVerifiedAt',
  'phoneVerifiedAt',
  'verificationLockedUntil',
  'passwordChangeRequired',
  'notificationPreference',
  'timeZone',
  'personalDataVerifiedBy',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof UsersTable)[];

const COMPANY_COLUMNS = ['id', 'name', 'createdAt', 'requireVerificationAt', 'trustedDeviceDays', 'smsAllowed'] as const satisfies readonly (keyof CompaniesTable)[];

const LINK_COLUMNS = [
  'id',
  'userId',
  'deviceId',
  'firstSignInAt',
  'lastSignInAt',
  'lastIp',
  'userAgent',
  'trustedAt',
  'trustedUntil',
  'revokedAt',
] as const satisfies readonly (keyof AccountDevicesTable)[];

/**
 * `prefixed('link', 'userId')` is `linkUserId`: an alias that keeps its spelling through the camelCase
 * mapping. The prefix must not make the name of a column of the other table (`company` + `id` would).
 */
const prefixed = <P extends string, N extends string>(prefix: P, name: N) => `${prefix}${name[0]!.toUpperCase()}${name.slice(1)}` as `${P}${Capitalize<N>}`;

/** The columns a query selected as `prefixed(prefix, name)`, under their own names again. */
function unprefixed<T>(row: object, prefix: string, columns: readonly string[]): T {
  const source = row as Record<string, unknown>;
  return Object.fromEntries(columns.map((name) => [name, source[prefixed(prefix, name)]])) as T;
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The session check, the hottest query: one join, written out once with camelCase aliases so rows
 * need no key mapping (Kysely would build it and rename every key on every request).
 */
function sessionContextSql(kind: DatabaseKind): string {
  // PostgreSQL reads many sessions at once (see LookupBatch), so each row names its own token hash.
  const columns: [string, string][] = [
    ...USER_COLUMNS.map((name): [string, string] => [name, `u.${snake(name)}`]),
    ...(['id', 'createdAt', 'lastSeenAt', 'revokedAt', 'ip', 'userAgent', 'trusted'] as const).map((name): [string, string] => [prefixed('s', name), `s.${snake(name)}`]),
    // The link's user and the company's id are the user's own id and company id, already selected.
    ...LINK_COLUMNS.filter((name) => name !== 'userId').map((name): [string, string] => [prefixed('d', name), `d.${snake(name)}`]),
    ...COMPANY_COLUMNS.filter((name) => name !== 'id').map((name): [string, string] => [prefixed('c', name), `c.${snake(name)}`]),
    ...(kind === 'postgres' ? [['sTokenHash', 's.token_hash'] as [string, string]] : []),
  ];
  return `select ${columns.map(([alias, column]) => `${column} as "${alias}"`).join(', ')}
    from sessions s
    join users u on u.id = s.user_id
    join account_devices d on d.id = s.account_device_id
    join companies c on c.id = u.company_id
    where ${kind === 'postgres' ? 's.token_hash = any($1)' : 's.token_hash = ?'}`;
}

const SESSION_CONTEXT_CACHE_SIZE = 10_000;
/** PostgreSQL session checks: queries in flight at once, and sessions per query. */
const SESSION_BATCH_QUERIES = 2;
const SESSION_BATCH_KEYS = 64;
/**
 * SQLite session checks: the checks of one turn of the event loop share one reading of the
 * database version (asking SQLite for `data_version` opens a read transaction, which costs two
 * file-lock system calls, as much as the rest of a cached check).
 */
const SQLITE_BATCH_KEYS = 256;

/** Values read under one database version; a new version empties it. Bounded: when full, it starts again. */
class VersionedCache<T> {
  private entries = new Map<string, T>();
  private at: string | undefined;

  constructor(
    readonly version: () => string,
    private readonly max: number,
  ) {}

  get(version: string, key: string): T | undefined {
    return version === this.at ? this.entries.get(key) : undefined;
  }

  set(version: string, key: string, value: T): void {
    if (version !== this.at || this.entries.size >= this.max) {
      this.entries = new Map();
      this.at = version;
    }
    this.entries.set(key, value);
  }
}

const SESSION_CONTEXT_SQL = { sqlite: sessionContextSql('sqlite'), postgres: sessionContextSql('postgres') } as const;

function toCompany(row: Selectable<CompaniesTable>): CompanyRecord {
  return { ...row, smsAllowed: row.smsAllowed === 1 };
}

/**
 * The form an address is unique and looked up in: NFKC, trimmed, lower case, and an
 * internationalized domain in its ASCII (punycode) form, so `user@bücher.example` and
 * `user@xn--bcher-kva.example` are one mailbox and one account.
 */
export function normalizeEmail(email: string): string {
  const lower = email.normalize('NFKC').trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  const domain = lower.slice(at + 1);
  if (at < 0 || /^[\x00-\x7f]*$/.test(domain)) return lower;
  const ascii = domainToASCII(domain);
  return ascii ? `${lower.slice(0, at)}@${ascii}` : lower;
}

const challengeColumns = [
  'id',
  'userId',
  'deviceId',
  'openedAt',
  'expiresAt',
  'attempts',
  'consumedAt',
  'ip',
  'emailSentAt',
  'smsSentAt',
] as const;

const sentColumn = { email: 'emailSentAt', sms: 'smsSentAt' } as const satisfies Record<Channel, string>;

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly kind: DatabaseKind,
    prepared?: OpenDatabase['prepared'],
    readVersion?: OpenDatabase['readVersion'],
  ) {
    if (readVersion) {
      const cache = new VersionedCache<SessionContextRow>(readVersion, SESSION_CONTEXT_CACHE_SIZE);
      this.sessionBatch = new LookupBatch((keys) => this.readCachedSessionContexts(cache, keys), 1, SQLITE_BATCH_KEYS);
    } else if (prepared) {
      this.sessionBatch = new LookupBatch((keys) => this.readSessionContexts(prepared, keys), SESSION_BATCH_QUERIES, SESSION_BATCH_KEYS);
    }
  }

  /**
   * Concurrent session checks are gathered: on PostgreSQL they share one query; on SQLite they
   * share one reading of the database version and are answered from memory while it is unchanged.
   */
  private readonly sessionBatch?: LookupBatch<SessionContextRow>;

  #raw?: Kysely<Database>;
  /** The same connection without the camelCase mapping, for queries that alias their own columns. */
  private get raw(): Kysely<Database> {
    return (this.#raw ??= this.db.withoutPlugins());
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return work(this);
    return this.db.transaction().execute((trx: Transaction<Database>) => work(new KyselyStore(trx, this.kind)));
  }

  // Companies

  async insertCompany(company: CompanyRecord): Promise<void> {
    await this.db.insertInto('companies').values({ ...company, smsAllowed: bool(company.smsAllowed) }).execute();
  }

  async findCompany(id: string): Promise<CompanyRecord | undefined> {
    const row = await this.db.selectFrom('companies').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toCompany(row);
  }

  async updateCompany(id: string, patch: Partial<Pick<CompanyRecord, 'requireVerificationAt' | 'trustedDeviceDays' | 'smsAllowed'>>): Promise<void> {
    const { smsAllowed, ...rest } = patch;
    await this.db
      .updateTable('companies')
      .set({ ...rest, ...(smsAllowed !== undefined ? { smsAllowed: bool(smsAllowed) } : {}) })
      .where('id', '=', id)
      .execute();
  }

  // Sign-in log and directory

  async recordSignIn(row: SignInRecord): Promise<void> {
    await this.db.insertInto('signIns').values({ ...row, newDevice: bool(row.newDevice) }).execute();
  }

  private signInQuery(filter: SignInFilter) {
    let query = this.db.selectFrom('signIns');
    if (filter.companyId !== undefined) query = query.where('signIns.companyId', '=', filter.companyId);
    if (filter.userId !== undefined) query = query.where('signIns.userId', '=', filter.userId);
    if (filter.from !== undefined) query = query.where('signIns.at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('signIns.at', '<', filter.to);
    if (filter.newDevicesOnly) query = query.where('signIns.newDevice', '=', 1);
    return query;
  }

  async listSignIns(filter: SignInFilter, page: Page): Promise<(SignInRecord & { userEmail: string; userName: string })[]> {
    // The page's ids come from the covering index alone; only those rows are then read and joined.
    const pageIds = this.signInQuery(filter).select('signIns.id').orderBy('signIns.at', 'desc').orderBy('signIns.id', 'desc').limit(page.limit).offset(page.offset);
    const rows = await this.db
      .selectFrom('signIns')
      .innerJoin('users', 'users.id', 'signIns.userId')
      .selectAll('signIns')
      .select(['users.email as userEmail', 'users.displayName as userName'])
      .where('signIns.id', 'in', pageIds)
      .orderBy('signIns.at', 'desc')
      .orderBy('signIns.id', 'desc')
      .execute();
    return rows.map((row) => ({ ...row, outcome: row.outcome as SignInRecord['outcome'], newDevice: row.newDevice === 1 }));
  }

  async countSignIns(filter: SignInFilter): Promise<number> {
    const row = await this.signInQuery(filter).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listEmployees(companyId: string, page: Page): Promise<EmployeeSummary[]> {
    const rows = await this.db
      .selectFrom('users')
      .selectAll('users')
      .select((eb) =>
        eb
          .selectFrom('signIns')
          .select((inner) => inner.fn.max('signIns.at').as('last'))
          .whereRef('signIns.userId', '=', 'users.id')
          .where('signIns.outcome', '=', 'success')
          .as('lastSignInAt'),
      )
      .where('users.companyId', '=', companyId)
      .orderBy('users.displayName')
      .orderBy('users.id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map((row) => ({ user: toUser(row), lastSignInAt: row.lastSignInAt === null || row.lastSignInAt === undefined ? null : Number(row.lastSignInAt) }));
  }

  async countEmployees(companyId: string): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number | string>().as('n')).where('companyId', '=', companyId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listAccountDevices(userId: string): Promise<AccountDeviceRecord[]> {
    return this.db.selectFrom('accountDevices').selectAll().where('userId', '=', userId).orderBy('lastSignInAt', 'desc').limit(500).execute();
  }

  async listActiveSessions(userId: string, since: number): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .select(['id', 'userId', 'accountDeviceId', 'createdAt', 'lastSeenAt', 'revokedAt', 'ip', 'userAgent', 'trusted'])
      .where('userId', '=', userId)
      .where('revokedAt', 'is', null)
      .where('createdAt', '>', since)
      .orderBy('lastSeenAt', 'desc')
      .limit(500)
      .execute();
    return rows.map((row) => ({ ...row, trusted: row.trusted === 1 }));
  }

  async findSession(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .select(['id', 'userId', 'accountDeviceId', 'createdAt', 'lastSeenAt', 'revokedAt', 'ip', 'userAgent', 'trusted'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row && { ...row, trusted: row.trusted === 1 };
  }

  // Users

  async insertUser(user: UserRecord): Promise<void> {
    await this.db
      .insertInto('users')
      .values({ ...user, emailNormalized: normalizeEmail(user.email), passwordChangeRequired: bool(user.passwordChangeRequired) })
      .execute();
  }

  async updateUser(id: string, patch: UserPatch, now: number): Promise<void> {
    const { passwordChangeRequired, email, ...rest } = patch;
    await this.db
      .updateTable('users')
      .set({
        ...rest,
        ...(email !== undefined ? { email, emailNormalized: normalizeEmail(email) } : {}),
        ...(passwordChangeRequired !== undefined ? { passwordChangeRequired: bool(passwordChangeRequired) } : {}),
        updatedAt: now,
      })
      .where('id', '=', id)
      .execute();
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async findUserByEmail(email: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('emailNormalized', '=', normalizeEmail(email)).executeTakeFirst();
    return row && toUser(row);
  }

  async findAccountByEmail(email: string): Promise<{ user: UserRecord; company: CompanyRecord } | undefined> {
    const row = await this.db
      .selectFrom('users')
      .innerJoin('companies', 'companies.id', 'users.companyId')
      .selectAll('users')
      .select(COMPANY_COLUMNS.map((name) => `companies.${name} as ${prefixed('co', name)}` as const))
      .where('users.emailNormalized', '=', normalizeEmail(email))
      .executeTakeFirst();
    if (!row) return undefined;
    const company = unprefixed<Selectable<CompaniesTable>>(row, 'co', COMPANY_COLUMNS);
    return { user: toUser(row), company: toCompany(company) };
  }

  async findAccountWithBrowser(
    email: string,
    deviceTokenHash: string,
  ): Promise<{ user: UserRecord; company: CompanyRecord; link: AccountDeviceRecord | undefined } | undefined> {
    // One query whether or not the address names an account, or the token a browser: the time it takes tells neither.
    const row = await this.db
      .selectFrom('users')
      .innerJoin('companies', 'companies.id', 'users.companyId')
      .leftJoin('devices', (join) => join.on('devices.tokenHash', '=', deviceTokenHash))
      .leftJoin('accountDevices', (join) => join.onRef('accountDevices.deviceId', '=', 'devices.id').onRef('accountDevices.userId', '=', 'users.id'))
      .selectAll('users')
      .select(COMPANY_COLUMNS.map((name) => `companies.${name} as ${prefixed('co', name)}` as const))
      .select(LINK_COLUMNS.map((name) => `accountDevices.${name} as ${prefixed('link', name)}` as const))
      .where('users.emailNormalized', '=', normalizeEmail(email))
      .executeTakeFirst();
    if (!row) return undefined;
    const company = unprefixed<Selectable<CompaniesTable>>(row, 'co', COMPANY_COLUMNS);
    const link = row.linkId === null ? undefined : unprefixed<AccountDeviceRecord>(row, 'link', LINK_COLUMNS);
    return { user: toUser(row), company: toCompany(company), link };
  }

  async listVerifiedRepresentatives(companyId: string): Promise<UserRecord[]> {
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where('companyId', '=', companyId)
      .where('role', '=', 'authorized')
      .where('personalDataVerifiedAt', 'is not', null)
      .execute();
    return rows.map(toUser);
  }

  // Devices

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    await this.db.insertInto('devices').values({ ...device, tokenHash }).execute();
  }

  async adoptDevice(device: DeviceRecord, tokenHash: string): Promise<string> {
    // A concurrent insert of the same token waits here for the other transaction, then does nothing.
    await this.db.insertInto('devices').values({ ...device, tokenHash }).onConflict((oc) => oc.column('tokenHash').doNothing()).execute();
    const row = await this.db.selectFrom('devices').select('id').where('tokenHash', '=', tokenHash).executeTakeFirstOrThrow();
    return row.id;
  }

  async rotateDeviceToken(deviceId: string, tokenHash: string, now: number): Promise<void> {
    await this.db.updateTable('devices').set({ tokenHash, lastSeenAt: now }).where('id', '=', deviceId).execute();
  }

  async findDeviceForAccount(tokenHash: string, userId: string): Promise<{ device: DeviceRecord; link: AccountDeviceRecord | undefined } | undefined> {
    const row = await this.db
      .selectFrom('devices')
      .leftJoin('accountDevices', (join) => join.onRef('accountDevices.deviceId', '=', 'devices.id').on('accountDevices.userId', '=', userId))
      .select(['devices.id as deviceId', 'devices.createdAt as deviceCreatedAt', 'devices.lastSeenAt as deviceLastSeenAt'])
      .select(LINK_COLUMNS.map((name) => `accountDevices.${name} as ${prefixed('link', name)}` as const))
      .where('devices.tokenHash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const device = { id: row.deviceId, createdAt: row.deviceCreatedAt, lastSeenAt: row.deviceLastSeenAt };
    const link = row.linkId === null ? undefined : unprefixed<AccountDeviceRecord>(row, 'link', LINK_COLUMNS);
    return { device, link };
  }

  async findAccountDeviceById(id: string): Promise<AccountDeviceRecord | undefined> {
    return this.db.selectFrom('accountDevices').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertAccountDevice(link: AccountDeviceRecord): Promise<void> {
    await this.db.insertInto('accountDevices').values(link).execute();
  }

  async revokeAccountDevice(id: string, now: number): Promise<void> {
    await this.db.updateTable('accountDevices').set({ trustedAt: null, trustedUntil: null, revokedAt: now }).where('id', '=', id).execute();
  }

  async expireOpenChallenges(userId: string): Promise<void> {
    await this.db
      .updateTable('challenges')
      .set({ expiresAt: 0 })
      .where('userId', '=', userId)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', 0)
      .execute();
  }

  async revokeAllTrust(userId: string, now: number): Promise<void> {
    await this.db
      .updateTable('accountDevices')
      .set({ trustedAt: null, trustedUntil: null, revokedAt: now })
      .where('userId', '=', userId)
      .where('trustedAt', 'is not', null)
      .execute();
  }

  async updateAccountDevice(
    userId: string,
    deviceId: string,
    patch: Partial<Pick<AccountDeviceRecord, 'lastSignInAt' | 'lastIp' | 'userAgent' | 'trustedAt' | 'trustedUntil' | 'revokedAt'>>,
  ): Promise<AccountDeviceRecord | undefined> {
    return this.db
      .updateTable('accountDevices')
      .set(patch)
      .where('userId', '=', userId)
      .where('deviceId', '=', deviceId)
      .returningAll()
      .executeTakeFirst();
  }

  // Challenges

  async findOpenChallenge(userId: string, deviceId: string, now: number): Promise<ChallengeRecord | undefined> {
    return this.db
      .selectFrom('challenges')
      .select(challengeColumns)
      .where('userId', '=', userId)
      .where('deviceId', '=', deviceId)
      .where('expiresAt', '>', now)
      .where('consumedAt', 'is', null)
      .orderBy('openedAt', 'desc')
      .executeTakeFirst();
  }

  async insertChallenge(challenge: ChallengeRecord, pendingTokenHash: string): Promise<void> {
    await this.db.insertInto('challenges').values({ ...challenge, pendingTokenHash }).execute();
  }

  async setChallengePendingToken(id: string, pendingTokenHash: string): Promise<void> {
    await this.db.updateTable('challenges').set({ pendingTokenHash }).where('id', '=', id).execute();
  }

  async findPendingChallenge(
    pendingTokenHash: string,
    deviceTokenHash: string,
  ): Promise<{ challenge: ChallengeRecord; user: UserRecord; company: CompanyRecord } | undefined> {
    const row = await this.db
      .selectFrom('challenges')
      .innerJoin('devices', 'devices.id', 'challenges.deviceId')
      .innerJoin('users', 'users.id', 'challenges.userId')
      .innerJoin('companies', 'companies.id', 'users.companyId')
      .selectAll('users')
      .select(challengeColumns.map((name) => `challenges.${name} as ${prefixed('ch', name)}` as const))
      .select(COMPANY_COLUMNS.map((name) => `companies.${name} as ${prefixed('co', name)}` as const))
      .where('challenges.pendingTokenHash', '=', pendingTokenHash)
      .where('devices.tokenHash', '=', deviceTokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const challenge = unprefixed<ChallengeRecord>(row, 'ch', challengeColumns);
    const company = unprefixed<Selectable<CompaniesTable>>(row, 'co', COMPANY_COLUMNS);
    return { challenge, user: toUser(row), company: toCompany(company) };
  }

  async findChallenge(id: string): Promise<ChallengeRecord | undefined> {
    return this.db.selectFrom('challenges').select(challengeColumns).where('id', '=', id).executeTakeFirst();
  }

  async restoreChallengeSend(id: string, channel: Channel, sentAt: number | null): Promise<void> {
    await this.db.updateTable('challenges').set({ [sentColumn[channel]]: sentAt }).where('id', '=', id).execute();
  }

  async claimChallengeSend(id: string, channel: Channel, now: number, cooldownMs: number): Promise<ChallengeRecord | undefined> {
    const column = sentColumn[channel];
    return this.db
      .updateTable('challenges')
      .set({ [column]: now })
      .where('id', '=', id)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .where((eb) => eb.or([eb(column, 'is', null), eb(column, '<=', now - cooldownMs)]))
      .returning(challengeColumns)
      .executeTakeFirst();
  }

  addChallengeAttempt(id: string, maxAttempts: number): Promise<number | undefined> {
    return this.countAttempt('challenges', id, maxAttempts);
  }

  consumeChallenge(id: string, now: number, maxAttempts: number): Promise<boolean> {
    return this.consumeOnce('challenges', id, now, maxAttempts);
  }

  /** The race gate of every code: one more wrong entry, only while under the cap and unused. */
  private async countAttempt(table: 'challenges' | 'phoneChanges', id: string, maxAttempts: number): Promise<number | undefined> {
    const row = await this.db
      .updateTable(table)
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .where('attempts', '<', maxAttempts)
      .where('consumedAt', 'is', null)
      .returning('attempts')
      .executeTakeFirst();
    return row?.attempts;
  }

  /** Marks a code's row used, once, while unexpired and under the attempt cap. */
  private async consumeOnce(table: 'challenges' | 'phoneChanges', id: string, now: number, maxAttempts: number): Promise<boolean> {
    const row = await this.db
      .updateTable(table)
      .set({ consumedAt: now })
      .where('id', '=', id)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .where('attempts', '<', maxAttempts)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async insertCodeFailure(userId: string, at: number): Promise<void> {
    await this.db.insertInto('codeFailures').values({ id: newId(), userId, at }).execute();
  }

  async countCodeFailures(userId: string, since: number): Promise<number> {
    const row = await this.db
      .selectFrom('codeFailures')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('userId', '=', userId)
      .where('at', '>', since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async lockVerification(userId: string, until: number, now: number): Promise<boolean> {
    const row = await this.db
      .updateTable('users')
      .set({ verificationLockedUntil: until, updatedAt: now })
      .where('id', '=', userId)
      .where((eb) => eb.or([eb('verificationLockedUntil', 'is', null), eb('verificationLockedUntil', '<=', now)]))
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  holdUnlockedAccount(userId: string, now: number): Promise<boolean> {
    return this.holdUser(userId, (eb) => eb.or([eb('verificationLockedUntil', 'is', null), eb('verificationLockedUntil', '<=', now)]));
  }

  holdPassword(userId: string, passwordHash: string, authorizationOff = false): Promise<boolean> {
    return this.holdUser(userId, (eb) => (authorizationOff ? eb.and([eb('passwordHash', '=', passwordHash), eb('twoFactorEnabledAt', 'is', null)]) : eb('passwordHash', '=', passwordHash)));
  }

  async holdCompanyWithoutRequirement(companyId: string): Promise<boolean> {
    const row = await this.db
      .updateTable('companies')
      .set((eb) => ({ name: eb.ref('name') }))
      .where('id', '=', companyId)
      .where('requireVerificationAt', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Holds the account row while `condition` holds on it: a no-op UPDATE takes the row lock on PostgreSQL; SQLite runs one write transaction at a time anyway. */
  private async holdUser(userId: string, condition: (eb: ExpressionBuilder<Database, 'users'>) => Expression<SqlBool>): Promise<boolean> {
    const row = await this.db
      .updateTable('users')
      .set((eb) => ({ updatedAt: eb.ref('updatedAt') }))
      .where('id', '=', userId)
      .where(condition)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async replacePasswordHash(userId: string, previous: string, next: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash: next, updatedAt: now }).where('id', '=', userId).where('passwordHash', '=', previous).execute();
  }

  async holdDevice(deviceId: string, now: number): Promise<void> {
    await this.db.updateTable('devices').set({ lastSeenAt: now }).where('id', '=', deviceId).execute();
  }

  // Sessions

  async insertSession(session: SessionRecord, tokenHash: string): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ ...session, trusted: bool(session.trusted), tokenHash })
      .execute();
  }

  async findSessionContext(tokenHash: string): Promise<SessionContext | undefined> {
    // A transaction's store has no batch: it reads its own view of the database.
    const row = await (this.sessionBatch ? this.sessionBatch.get(tokenHash) : this.readSessionContext(tokenHash));
    return row && this.toSessionContext(row);
  }

  /**
   * SQLite: the version is read once the batch is closed, so after every check in it arrived, and
   * before any query: a write that lands meanwhile only makes the entries stale.
   */
  private async readCachedSessionContexts(cache: VersionedCache<SessionContextRow>, tokenHashes: string[]): Promise<Map<string, SessionContextRow>> {
    const version = cache.version();
    const found = new Map<string, SessionContextRow>();
    for (const tokenHash of tokenHashes) {
      let row = cache.get(version, tokenHash);
      if (!row) {
        row = await this.readSessionContext(tokenHash);
        if (row) cache.set(version, tokenHash, row);
      }
      if (row) found.set(tokenHash, row);
    }
    return found;
  }

  private async readSessionContext(tokenHash: string): Promise<SessionContextRow | undefined> {
    const text = SESSION_CONTEXT_SQL[this.kind];
    const values = this.kind === 'postgres' ? [[tokenHash]] : [tokenHash];
    return (await this.raw.executeQuery<SessionContextRow>(CompiledQuery.raw(text, values))).rows[0];
  }

  private async readSessionContexts(prepared: NonNullable<OpenDatabase['prepared']>, tokenHashes: string[]): Promise<Map<string, SessionContextRow>> {
    // A named statement spares the server parsing and planning this join on every query.
    const rows = (await prepared('doorman_session_contexts', SESSION_CONTEXT_SQL.postgres, [tokenHashes])) as unknown as SessionContextRow[];
    return new Map(rows.map((row) => [row.sTokenHash!, row]));
  }

  private toSessionContext(row: SessionContextRow): SessionContext {
    return {
      session: {
        id: row.sId,
        userId: row.id,
        accountDeviceId: row.dId,
        createdAt: row.sCreatedAt,
        lastSeenAt: row.sLastSeenAt,
        revokedAt: row.sRevokedAt,
        ip: row.sIp,
        userAgent: row.sUserAgent,
        trusted: row.sTrusted === 1,
      },
      user: toUser(row),
      link: {
        id: row.dId,
        userId: row.id,
        deviceId: row.dDeviceId,
        firstSignInAt: row.dFirstSignInAt,
        lastSignInAt: row.dLastSignInAt,
        lastIp: row.dLastIp,
        userAgent: row.dUserAgent,
        trustedAt: row.dTrustedAt,
        trustedUntil: row.dTrustedUntil,
        revokedAt: row.dRevokedAt,
      },
      company: {
        id: row.companyId,
        name: row.cName,
        createdAt: row.cCreatedAt,
        requireVerificationAt: row.cRequireVerificationAt,
        trustedDeviceDays: row.cTrustedDeviceDays,
        smsAllowed: row.cSmsAllowed === 1,
      },
    };
  }

  async touchSession(id: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ lastSeenAt: now }).where('id', '=', id).where('lastSeenAt', '<', now).execute();
  }

  async revokeSession(id: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ revokedAt: now }).where('id', '=', id).where('revokedAt', 'is', null).execute();
  }

  async revokeSessionByToken(tokenHash: string, userId: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ revokedAt: now }).where('tokenHash', '=', tokenHash).where('userId', '=', userId).where('revokedAt', 'is', null).execute();
  }

  async revokeSessionsOfAccountDevice(accountDeviceId: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ revokedAt: now }).where('accountDeviceId', '=', accountDeviceId).where('revokedAt', 'is', null).execute();
  }

  async revokeUserSessions(userId: string, now: number, keepSessionId?: string): Promise<void> {
    let query = this.db.updateTable('sessions').set({ revokedAt: now }).where('userId', '=', userId).where('revokedAt', 'is', null);
    if (keepSessionId) query = query.where('id', '!=', keepSessionId);
    await query.execute();
  }

  async revokeCompanySessionsWithoutAuthorization(companyId: string, now: number, keepSessionId?: string): Promise<void> {
    let query = this.db
      .updateTable('sessions')
      .set({ revokedAt: now })
      .where('revokedAt', 'is', null)
      .where('userId', 'in', this.db.selectFrom('users').select('id').where('companyId', '=', companyId).where('twoFactorEnabledAt', 'is', null));
    if (keepSessionId) query = query.where('id', '!=', keepSessionId);
    await query.execute();
  }

  // Notifications

  async insertSignInReport(report: SignInReportRecord): Promise<void> {
    await this.db.insertInto('signInReports').values(report).execute();
  }

  async findSignInReport(id: string): Promise<SignInReportRecord | undefined> {
    return this.db.selectFrom('signInReports').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async useSignInReport(id: string, now: number): Promise<boolean> {
    const row = await this.db
      .updateTable('signInReports')
      .set({ usedAt: now })
      .where('id', '=', id)
      .where('usedAt', 'is', null)
      .where('expiresAt', '>', now)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async insertDigestEntry(recipientId: string, entry: Record<string, string>, now: number): Promise<void> {
    await this.db.insertInto('digestEntries').values({ id: newId(), recipientId, createdAt: now, payload: JSON.stringify(entry), sentAt: null }).execute();
  }

  async takePendingDigestEntries(now: number): Promise<DigestBatch[]> {
    const rows = await this.db
      .updateTable('digestEntries')
      .set({ sentAt: now })
      .where('sentAt', 'is', null)
      .returning(['recipientId', 'payload', 'createdAt'])
      .execute();
    const batches = new Map<string, { at: number; entry: Record<string, string> }[]>();
    for (const row of rows) {
      const list = batches.get(row.recipientId) ?? [];
      list.push({ at: row.createdAt, entry: JSON.parse(row.payload) as Record<string, string> });
      batches.set(row.recipientId, list);
    }
    return [...batches].map(([recipientId, list]) => ({ recipientId, entries: list.sort((a, b) => a.at - b.at).map((e) => e.entry) }));
  }

  // Phone changes

  async insertPhoneChange(change: PhoneChangeRecord): Promise<void> {
    await this.db.insertInto('phoneChanges').values(change).execute();
  }

  async findOpenPhoneChange(userId: string, now: number, purpose: ConfirmationPurpose = 'phone'): Promise<PhoneChangeRecord | undefined> {
    const row = await this.db
      .selectFrom('phoneChanges')
      .selectAll()
      .where('userId', '=', userId)
      .where('purpose', '=', purpose)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .orderBy('createdAt', 'desc')
      .executeTakeFirst();
    return row && { ...row, purpose: row.purpose as ConfirmationPurpose };
  }

  addPhoneChangeAttempt(id: string, maxAttempts: number): Promise<number | undefined> {
    return this.countAttempt('phoneChanges', id, maxAttempts);
  }

  consumePhoneChange(id: string, now: number, maxAttempts: number): Promise<boolean> {
    return this.consumeOnce('phoneChanges', id, now, maxAttempts);
  }

  // Audit

  async recordAudit(event: AuditEvent, at: number): Promise<void> {
    await this.db
      .insertInto('auditEvents')
      .values({
        id: newId(),
        at,
        event: event.event,
        outcome: event.outcome,
        userId: event.userId ?? null,
        companyId: event.companyId ?? null,
        ip: event.ip ?? null,
        deviceId: event.deviceId ?? null,
        userAgent: event.userAgent ?? null,
        detail: event.detail ? JSON.stringify(event.detail) : null,
      })
      .execute();
  }

  // Outbox

  async enqueueMessage(message: OutgoingMessage, now: number): Promise<string> {
    const id = newId();
    await this.db
      .insertInto('outbox')
      .values({
        id,
        createdAt: now,
        channel: message.channel,
        template: message.template,
        recipient: message.recipient,
        locale: message.locale,
        payload: JSON.stringify(message.payload),
        status: 'pending',
        nextAttemptAt: now,
      })
      .execute();
    return id;
  }

  async claimDueMessages(now: number, leaseMs: number, limit: number): Promise<QueuedMessage[]> {
    // A lease instead of a long lock: a dispatcher that dies mid-delivery frees its rows when the lease ends.
    const due = this.db
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('nextAttemptAt', '<=', now)
      .where((eb) => eb.or([eb('leasedUntil', 'is', null), eb('leasedUntil', '<=', now)]))
      .orderBy('nextAttemptAt')
      .limit(limit);
    const rows = await this.db
      .updateTable('outbox')
      .set((eb) => ({ leasedUntil: now + leaseMs, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', this.kind === 'postgres' ? due.forUpdate().skipLocked() : due)
      .where('status', '=', 'pending')
      .returning(['id', 'createdAt', 'channel', 'template', 'recipient', 'locale', 'payload', 'attempts'])
      .execute();
    return rows.map((row) => ({
      ...row,
      channel: row.channel as Channel,
      locale: row.locale as Locale,
      payload: JSON.parse(row.payload) as QueuedMessage['payload'],
    }));
  }

  async markMessageSent(id: string, now: number): Promise<void> {
    await this.db.updateTable('outbox').set({ status: 'sent', sentAt: now, leasedUntil: null, lastError: null }).where('id', '=', id).execute();
  }

  async markMessageLapsed(id: string, now: number): Promise<void> {
    await this.db.updateTable('outbox').set({ status: 'lapsed', sentAt: now, leasedUntil: null }).where('id', '=', id).execute();
  }

  async listStuckMessages(limit: number): Promise<StuckMessage[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select(stuckColumns)
      .where((eb) => eb.or([eb('status', '=', 'dead'), eb.and([eb('status', '=', 'pending'), eb('attempts', '>', 0)])]))
      .orderBy('createdAt')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ ...row, channel: row.channel as Channel }));
  }

  async retryMessage(id: string, now: number): Promise<boolean> {
    const row = await this.db
      .updateTable('outbox')
      .set({ status: 'pending', nextAttemptAt: now, leasedUntil: null, attempts: 0 })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'pending'])
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async markMessageFailed(id: string, nextAttemptAt: number, error: string, dead: boolean): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set({ status: dead ? 'dead' : 'pending', nextAttemptAt, leasedUntil: null, lastError: error.slice(0, 500) })
      .where('id', '=', id)
      .execute();
  }
}

const stuckColumns = ['id', 'createdAt', 'channel', 'template', 'recipient', 'status', 'attempts', 'nextAttemptAt', 'lastError'] as const;

/** How many messages wait for delivery (tests and operators). */
export async function countPendingMessages(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select(sql<number>`count(*)`.as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
