// The Store of flows/ports.ts on Kysely; identical SQL for SQLite and PostgreSQL except where noted.
import { CompiledQuery, sql, type Kysely, type QueryResult, type Selectable, type Transaction } from 'kysely';
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
import { QueryTemplates } from './queryTemplates.js';
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

/** The session check's columns, with camelCase aliases so rows need no key mapping: [alias, column]. */
const SESSION_CONTEXT_COLUMNS: [string, string][] = [
  ...USER_COLUMNS.map((name): [string, string] => [name, `u.${snake(name)}`]),
  ...(['id', 'createdAt', 'lastSeenAt', 'revokedAt', 'ip', 'userAgent', 'trusted'] as const).map((name): [string, string] => [prefixed('s', name), `s.${snake(name)}`]),
  // The link's user and the company's id are the user's own id and company id, already selected.
  ...LINK_COLUMNS.filter((name) => name !== 'userId').map((name): [string, string] => [prefixed('d', name), `d.${snake(name)}`]),
  ...COMPANY_COLUMNS.filter((name) => name !== 'id').map((name): [string, string] => [prefixed('c', name), `c.${snake(name)}`]),
];

const SESSION_CONTEXT_JOIN = `from sessions s
    join users u on u.id = s.user_id
    join account_devices d on d.id = s.account_device_id
    join companies c on c.id = u.company_id`;

/**
 * The session check, the hottest query: one join, written out once (Kysely would build it and
 * rename every key on every request).
 */
function sessionContextSql(): string {
  return `select ${SESSION_CONTEXT_COLUMNS
    .map(([alias, column]) => `${column} as "${alias}"`)
    .join(', ')} ${SESSION_CONTEXT_JOIN} where s.token_hash = ?`;
}

/**
 * PostgreSQL: the version of the four rows a session check reads: a 64-bit hash of each row's
 * columns, and the transaction that wrote it and where it lies (`xmin`, `ctid`, which change with
 * any update, delete or re-insert). The hashes alone tell whether the columns are the ones held;
 * the row versions are there too, so a stale entry would need both a hash collision and a reused
 * transaction id (as after failing over to a standby that lost the last transactions).
 */
const SESSION_CONTEXT_VERSION = `concat_ws(',', hash_record_extended(s, 0), hash_record_extended(u, 0), hash_record_extended(d, 0), hash_record_extended(c, 0),
  s.xmin, s.ctid, u.xmin, u.ctid, d.xmin, d.ctid, c.xmin, c.ctid)`;

/**
 * PostgreSQL: the session checks of `keys` token hashes in one query. Each key comes with the
 * version of the row this instance already holds for it ('' for none); a row whose version is
 * still that one comes back without its columns (`row` null), any other with all of them as one
 * JSON array (in `SESSION_CONTEXT_COLUMNS` order). Each key is looked up on its own, through the
 * indexes (a lateral join that is not flattened): joined as sets, the planner scans small tables
 * whole and compares every row with every key. The keys are a list of exactly `keys` values, not an
 * array, so the plan cached for the statement knows how many rows it reads, and PostgreSQL keeps
 * that one plan instead of planning the join again for small batches.
 */
function sessionContextsSql(keys: number): string {
  const values = Array.from({ length: keys }, (_, i) => `($${2 * i + 1}::text, $${2 * i + 2}::text)`).join(', ');
  const columns = SESSION_CONTEXT_COLUMNS.map(([, column]) => column);
  return `select x."sTokenHash", x."version", x."row"
    from (values ${values}) as k(token_hash, known)
    cross join lateral (
      select s.token_hash as "sTokenHash", v.version as "version",
        case when v.version = k.known then null else json_build_array(${columns.join(', ')})::text end as "row"
      ${SESSION_CONTEXT_JOIN}
      cross join lateral (select ${SESSION_CONTEXT_VERSION} as version) as v
      where s.token_hash = k.token_hash
      limit 1
    ) as x`;
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

const SQLITE_SESSION_CONTEXT_SQL = sessionContextSql();
/** PostgreSQL: batches are rounded up to a power of two (a few statements per connection, not one per size). */
const POSTGRES_SESSION_CONTEXTS_SQL = new Map<number, string>();
for (let keys = 1; keys < SESSION_BATCH_KEYS * 2; keys *= 2) POSTGRES_SESSION_CONTEXTS_SQL.set(keys, sessionContextsSql(keys));
const POSTGRES_SESSION_CONTEXT_ALIASES = SESSION_CONTEXT_COLUMNS.map(([alias]) => alias);

/**
 * The statement for a batch of token hashes, each with the version already held ('' for none),
 * padded to the statement's size ('' is no token's hash).
 */
function sessionContextsStatement(keys: readonly { tokenHash: string; known: string }[]): { name: string; text: string; values: string[] } {
  let size = 1;
  while (size < keys.length) size *= 2;
  const text = POSTGRES_SESSION_CONTEXTS_SQL.get(size);
  if (!text) throw new Error(`a batch of ${keys.length} session checks is larger than ${SESSION_BATCH_KEYS}`);
  const values = keys.flatMap(({ tokenHash, known }) => [tokenHash, known]);
  while (values.length < 2 * size) values.push('', '');
  return { name: `doorman_session_contexts_${size}`, text, values };
}

interface VersionedSessionRow {
  sTokenHash: string;
  version: string;
  row: string | null;
}

/** A row of the session-check statement with its columns, as the named columns of the join. */
function sessionContextFromJson(row: string): SessionContextRow {
  const values = JSON.parse(row) as unknown[];
  return Object.fromEntries(POSTGRES_SESSION_CONTEXT_ALIASES.map((alias, i) => [alias, values[i]])) as unknown as SessionContextRow;
}

/**
 * PostgreSQL: the session contexts this instance has read, each with the version it was read at.
 * An entry is only ever used after the database has said, in a query made for the check at hand,
 * that its version is still the current one. Bounded: when full, it starts again.
 */
class SessionRowCache {
  private entries = new Map<string, HeldSessionRow>();

  constructor(private readonly max: number) {}

  held(tokenHash: string): HeldSessionRow | undefined {
    return this.entries.get(tokenHash);
  }

  keep(tokenHash: string, held: HeldSessionRow): void {
    if (this.entries.size >= this.max) this.entries = new Map();
    this.entries.set(tokenHash, held);
  }

  forget(tokenHash: string): void {
    this.entries.delete(tokenHash);
  }
}

interface HeldSessionRow {
  version: string;
  row: SessionContextRow;
}

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

/**
 * The columns a patch writes (one left undefined is not written), for a query template: one
 * template per set of columns (`key`), the patch's values in column order, and the SET object
 * made from a template's arguments.
 */
function patchColumns(patch: Record<string, unknown>) {
  const columns = Object.keys(patch).filter((column) => patch[column] !== undefined);
  return {
    key: columns.join(','),
    values: columns.map((column) => patch[column]),
    set: (values: readonly unknown[]) => Object.fromEntries(columns.map((column, i) => [column, values[i]])),
  };
}

const sentColumn = { email: 'emailSentAt', sms: 'smsSentAt' } as const satisfies Record<Channel, string>;

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly kind: DatabaseKind,
    prepared?: OpenDatabase['prepared'],
    readVersion?: OpenDatabase['readVersion'],
    /** Shared by the store and the stores of its transactions (the SQL is the same). */
    private readonly templates = new QueryTemplates(),
  ) {
    if (readVersion) {
      const cache = new VersionedCache<SessionContextRow>(readVersion, SESSION_CONTEXT_CACHE_SIZE);
      this.sessionBatch = new LookupBatch((keys) => this.readCachedSessionContexts(cache, keys), 1, SQLITE_BATCH_KEYS);
    } else if (prepared) {
      const cache = new SessionRowCache(SESSION_CONTEXT_CACHE_SIZE);
      this.sessionBatch = new LookupBatch((keys) => this.readSessionContexts(prepared, cache, keys), SESSION_BATCH_QUERIES, SESSION_BATCH_KEYS);
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
    return this.db.transaction().execute((trx: Transaction<Database>) => work(new KyselyStore(trx, this.kind, undefined, undefined, this.templates)));
  }

  /** Runs a query of the sign-in path from its template (see QueryTemplates): `build` runs once per `name`. */
  private run<A extends readonly unknown[], R>(name: string, build: (...args: A) => { compile(): CompiledQuery<R> }, ...args: A): Promise<QueryResult<R>> {
    return this.db.executeQuery(this.templates.bind(name, build, args));
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
    await this.run(
      'recordSignIn',
      (id: string, at: number, userId: string, companyId: string, accountDeviceId: string | null, ip: string, userAgent: string, outcome: string, newDevice: number, reason: string | null) =>
        this.db.insertInto('signIns').values({ id, at, userId, companyId, accountDeviceId, ip, userAgent, outcome, newDevice, reason }),
      row.id,
      row.at,
      row.userId,
      row.companyId,
      row.accountDeviceId,
      row.ip,
      row.userAgent,
      row.outcome,
      bool(row.newDevice),
      row.reason,
    );
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
    const values: Record<string, unknown> = {
      ...rest,
      ...(email !== undefined ? { email, emailNormalized: normalizeEmail(email) } : {}),
      ...(passwordChangeRequired !== undefined ? { passwordChangeRequired: bool(passwordChangeRequired) } : {}),
      updatedAt: now,
    };
    const written = patchColumns(values);
    await this.run(`updateUser:${written.key}`, (id: string, ...row: unknown[]) => this.db.updateTable('users').set(written.set(row)).where('id', '=', id), id, ...written.values);
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
    const [row] = (
      await this.run(
        'findAccountByEmail',
        (normalized: string) =>
          this.db
            .selectFrom('users')
            .innerJoin('companies', 'companies.id', 'users.companyId')
            .select(USER_COLUMNS.map((name) => `users.${name}` as const))
            .select(COMPANY_COLUMNS.map((name) => `companies.${name} as ${prefixed('co', name)}` as const))
            .where('users.emailNormalized', '=', normalized),
        normalizeEmail(email),
      )
    ).rows;
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
    const { rows } = await this.run(
      'listVerifiedRepresentatives',
      (companyId: string) => this.db.selectFrom('users').select(USER_COLUMNS).where('companyId', '=', companyId).where('role', '=', 'authorized').where('personalDataVerifiedAt', 'is not', null),
      companyId,
    );
    return rows.map(toUser);
  }

  // Devices

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    await this.run(
      'insertDevice',
      (id: string, createdAt: number, lastSeenAt: number, tokenHash: string) => this.db.insertInto('devices').values({ id, createdAt, lastSeenAt, tokenHash }),
      device.id,
      device.createdAt,
      device.lastSeenAt,
      tokenHash,
    );
  }

  async adoptDevice(device: DeviceRecord, tokenHash: string): Promise<string> {
    // A concurrent insert of the same token waits here for the other transaction, then does nothing.
    await this.db.insertInto('devices').values({ ...device, tokenHash }).onConflict((oc) => oc.column('tokenHash').doNothing()).execute();
    const row = await this.db.selectFrom('devices').select('id').where('tokenHash', '=', tokenHash).executeTakeFirstOrThrow();
    return row.id;
  }

  async rotateDeviceToken(deviceId: string, tokenHash: string, now: number): Promise<void> {
    await this.run(
      'rotateDeviceToken',
      (deviceId: string, tokenHash: string, now: number) => this.db.updateTable('devices').set({ tokenHash, lastSeenAt: now }).where('id', '=', deviceId),
      deviceId,
      tokenHash,
      now,
    );
  }

  async findDeviceForAccount(tokenHash: string, userId: string): Promise<{ device: DeviceRecord; link: AccountDeviceRecord | undefined } | undefined> {
    const [row] = (
      await this.run(
        'findDeviceForAccount',
        (tokenHash: string, userId: string) =>
          this.db
            .selectFrom('devices')
            .leftJoin('accountDevices', (join) => join.onRef('accountDevices.deviceId', '=', 'devices.id').on('accountDevices.userId', '=', userId))
            .select(['devices.id as deviceId', 'devices.createdAt as deviceCreatedAt', 'devices.lastSeenAt as deviceLastSeenAt'])
            .select(LINK_COLUMNS.map((name) => `accountDevices.${name} as ${prefixed('link', name)}` as const))
            .where('devices.tokenHash', '=', tokenHash),
        tokenHash,
        userId,
      )
    ).rows;
    if (!row) return undefined;
    const device = { id: row.deviceId, createdAt: row.deviceCreatedAt, lastSeenAt: row.deviceLastSeenAt };
    const link = row.linkId === null ? undefined : unprefixed<AccountDeviceRecord>(row, 'link', LINK_COLUMNS);
    return { device, link };
  }

  async findAccountDeviceById(id: string): Promise<AccountDeviceRecord | undefined> {
    return this.db.selectFrom('accountDevices').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertAccountDevice(link: AccountDeviceRecord): Promise<void> {
    await this.run(
      'insertAccountDevice',
      (id: string, userId: string, deviceId: string, firstSignInAt: number, lastSignInAt: number, lastIp: string, userAgent: string, trustedAt: number | null, trustedUntil: number | null, revokedAt: number | null) =>
        this.db.insertInto('accountDevices').values({ id, userId, deviceId, firstSignInAt, lastSignInAt, lastIp, userAgent, trustedAt, trustedUntil, revokedAt }),
      link.id,
      link.userId,
      link.deviceId,
      link.firstSignInAt,
      link.lastSignInAt,
      link.lastIp,
      link.userAgent,
      link.trustedAt,
      link.trustedUntil,
      link.revokedAt,
    );
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
    const written = patchColumns(patch);
    const { rows } = await this.run(
      `updateAccountDevice:${written.key}`,
      (userId: string, deviceId: string, ...values: unknown[]) =>
        this.db.updateTable('accountDevices').set(written.set(values)).where('userId', '=', userId).where('deviceId', '=', deviceId).returning(LINK_COLUMNS),
      userId,
      deviceId,
      ...written.values,
    );
    return rows[0];
  }

  // Challenges

  async findOpenChallenge(userId: string, deviceId: string, now: number): Promise<ChallengeRecord | undefined> {
    const { rows } = await this.run(
      'findOpenChallenge',
      (userId: string, deviceId: string, now: number) =>
        this.db
          .selectFrom('challenges')
          .select(challengeColumns)
          .where('userId', '=', userId)
          .where('deviceId', '=', deviceId)
          .where('expiresAt', '>', now)
          .where('consumedAt', 'is', null)
          .orderBy('openedAt', 'desc'),
      userId,
      deviceId,
      now,
    );
    return rows[0];
  }

  async insertChallenge(challenge: ChallengeRecord, pendingTokenHash: string): Promise<void> {
    const c = challenge;
    await this.run(
      'insertChallenge',
      (id: string, userId: string, deviceId: string, openedAt: number, expiresAt: number, attempts: number, consumedAt: number | null, ip: string, emailSentAt: number | null, smsSentAt: number | null, pendingTokenHash: string) =>
        this.db.insertInto('challenges').values({ id, userId, deviceId, openedAt, expiresAt, attempts, consumedAt, ip, emailSentAt, smsSentAt, pendingTokenHash }),
      c.id,
      c.userId,
      c.deviceId,
      c.openedAt,
      c.expiresAt,
      c.attempts,
      c.consumedAt,
      c.ip,
      c.emailSentAt,
      c.smsSentAt,
      pendingTokenHash,
    );
  }

  async setChallengePendingToken(id: string, pendingTokenHash: string): Promise<void> {
    await this.run('setChallengePendingToken', (id: string, pendingTokenHash: string) => this.db.updateTable('challenges').set({ pendingTokenHash }).where('id', '=', id), id, pendingTokenHash);
  }

  async findPendingChallenge(
    pendingTokenHash: string,
    deviceTokenHash: string,
  ): Promise<{ challenge: ChallengeRecord; user: UserRecord; company: CompanyRecord } | undefined> {
    const [row] = (
      await this.run(
        'findPendingChallenge',
        (pendingTokenHash: string, deviceTokenHash: string) =>
          this.db
            .selectFrom('challenges')
            .innerJoin('devices', 'devices.id', 'challenges.deviceId')
            .innerJoin('users', 'users.id', 'challenges.userId')
            .innerJoin('companies', 'companies.id', 'users.companyId')
            .select(USER_COLUMNS.map((name) => `users.${name}` as const))
            .select(challengeColumns.map((name) => `challenges.${name} as ${prefixed('ch', name)}` as const))
            .select(COMPANY_COLUMNS.map((name) => `companies.${name} as ${prefixed('co', name)}` as const))
            .where('challenges.pendingTokenHash', '=', pendingTokenHash)
            .where('devices.tokenHash', '=', deviceTokenHash),
        pendingTokenHash,
        deviceTokenHash,
      )
    ).rows;
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
    const { rows } = await this.run(
      `claimChallengeSend:${channel}`,
      (id: string, now: number, resendFrom: number) =>
        this.db
          .updateTable('challenges')
          .set({ [column]: now })
          .where('id', '=', id)
          .where('consumedAt', 'is', null)
          .where('expiresAt', '>', now)
          .where((eb) => eb.or([eb(column, 'is', null), eb(column, '<=', resendFrom)]))
          .returning(challengeColumns),
      id,
      now,
      now - cooldownMs,
    );
    return rows[0];
  }

  addChallengeAttempt(id: string, maxAttempts: number): Promise<number | undefined> {
    return this.countAttempt('challenges', id, maxAttempts);
  }

  consumeChallenge(id: string, now: number, maxAttempts: number): Promise<boolean> {
    return this.consumeOnce('challenges', id, now, maxAttempts);
  }

  /** The race gate of every code: one more wrong entry, only while under the cap and unused. */
  private async countAttempt(table: 'challenges' | 'phoneChanges', id: string, maxAttempts: number): Promise<number | undefined> {
    const { rows } = await this.run(
      `countAttempt:${table}`,
      (id: string, maxAttempts: number) =>
        this.db
          .updateTable(table)
          .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
          .where('id', '=', id)
          .where('attempts', '<', maxAttempts)
          .where('consumedAt', 'is', null)
          .returning('attempts'),
      id,
      maxAttempts,
    );
    return rows[0]?.attempts;
  }

  /** Marks a code's row used, once, while unexpired and under the attempt cap. */
  private async consumeOnce(table: 'challenges' | 'phoneChanges', id: string, now: number, maxAttempts: number): Promise<boolean> {
    const { rows } = await this.run(
      `consumeOnce:${table}`,
      (id: string, now: number, maxAttempts: number) =>
        this.db.updateTable(table).set({ consumedAt: now }).where('id', '=', id).where('consumedAt', 'is', null).where('expiresAt', '>', now).where('attempts', '<', maxAttempts).returning('id'),
      id,
      now,
      maxAttempts,
    );
    return rows.length > 0;
  }

  async insertCodeFailure(userId: string, at: number): Promise<void> {
    await this.run('insertCodeFailure', (id: string, userId: string, at: number) => this.db.insertInto('codeFailures').values({ id, userId, at }), newId(), userId, at);
  }

  async countCodeFailures(userId: string, since: number): Promise<number> {
    const { rows } = await this.run(
      'countCodeFailures',
      (userId: string, since: number) =>
        this.db
          .selectFrom('codeFailures')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('userId', '=', userId)
          .where('at', '>', since),
      userId,
      since,
    );
    return Number(rows[0]!.n);
  }

  async lockVerification(userId: string, until: number, now: number): Promise<boolean> {
    const { rows } = await this.run(
      'lockVerification',
      (userId: string, until: number, now: number) =>
        this.db
          .updateTable('users')
          .set({ verificationLockedUntil: until, updatedAt: now })
          .where('id', '=', userId)
          .where((eb) => eb.or([eb('verificationLockedUntil', 'is', null), eb('verificationLockedUntil', '<=', now)]))
          .returning('id'),
      userId,
      until,
      now,
    );
    return rows.length > 0;
  }

  async holdUnlockedAccount(userId: string, now: number): Promise<boolean> {
    const { rows } = await this.run(
      'holdUnlockedAccount',
      (userId: string, now: number) =>
        this.holdUserQuery(userId).where((eb) => eb.or([eb('verificationLockedUntil', 'is', null), eb('verificationLockedUntil', '<=', now)])),
      userId,
      now,
    );
    return rows.length > 0;
  }

  async holdPassword(userId: string, passwordHash: string, authorizationOff = false): Promise<boolean> {
    const { rows } = authorizationOff
      ? await this.run(
          'holdPassword:authorizationOff',
          (userId: string, passwordHash: string) => this.holdUserQuery(userId).where('passwordHash', '=', passwordHash).where('twoFactorEnabledAt', 'is', null),
          userId,
          passwordHash,
        )
      : await this.run('holdPassword', (userId: string, passwordHash: string) => this.holdUserQuery(userId).where('passwordHash', '=', passwordHash), userId, passwordHash);
    return rows.length > 0;
  }

  async holdCompanyWithoutRequirement(companyId: string): Promise<boolean> {
    const { rows } = await this.run(
      'holdCompanyWithoutRequirement',
      (companyId: string) =>
        this.db
          .updateTable('companies')
          .set((eb) => ({ name: eb.ref('name') }))
          .where('id', '=', companyId)
          .where('requireVerificationAt', 'is', null)
          .returning('id'),
      companyId,
    );
    return rows.length > 0;
  }

  /**
   * Holds the account row while the conditions the caller adds hold on it: a no-op UPDATE takes the
   * row lock on PostgreSQL; SQLite runs one write transaction at a time anyway.
   */
  private holdUserQuery(userId: string) {
    return this.db
      .updateTable('users')
      .set((eb) => ({ updatedAt: eb.ref('updatedAt') }))
      .where('id', '=', userId)
      .returning('id');
  }

  async replacePasswordHash(userId: string, previous: string, next: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash: next, updatedAt: now }).where('id', '=', userId).where('passwordHash', '=', previous).execute();
  }

  async holdDevice(deviceId: string, now: number): Promise<void> {
    await this.run('holdDevice', (deviceId: string, now: number) => this.db.updateTable('devices').set({ lastSeenAt: now }).where('id', '=', deviceId), deviceId, now);
  }

  // Sessions

  async insertSession(session: SessionRecord, tokenHash: string): Promise<void> {
    const v = session;
    await this.run(
      'insertSession',
      (id: string, userId: string, accountDeviceId: string, createdAt: number, lastSeenAt: number, revokedAt: number | null, ip: string, userAgent: string, trusted: number, tokenHash: string) =>
        this.db.insertInto('sessions').values({ id, userId, accountDeviceId, createdAt, lastSeenAt, revokedAt, ip, userAgent, trusted, tokenHash }),
      v.id,
      v.userId,
      v.accountDeviceId,
      v.createdAt,
      v.lastSeenAt,
      v.revokedAt,
      v.ip,
      v.userAgent,
      bool(v.trusted),
      tokenHash,
    );
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
    if (this.kind === 'postgres') {
      const { text, values } = sessionContextsStatement([{ tokenHash, known: '' }]);
      const answer = (await this.raw.executeQuery<VersionedSessionRow>(CompiledQuery.raw(text, values))).rows[0];
      return answer?.row ? sessionContextFromJson(answer.row) : undefined;
    }
    return (await this.raw.executeQuery<SessionContextRow>(CompiledQuery.raw(SQLITE_SESSION_CONTEXT_SQL, [tokenHash]))).rows[0];
  }

  /**
   * PostgreSQL: one query for the batch, read after every check in it arrived. A session whose rows
   * are unchanged since this instance last read them comes back as its version alone, and is
   * answered with what was read then (parsing the forty-two columns was most of the driver's work).
   */
  private async readSessionContexts(prepared: NonNullable<OpenDatabase['prepared']>, cache: SessionRowCache, tokenHashes: string[]): Promise<Map<string, SessionContextRow>> {
    // What this query tells the database it holds: a version the answer confirms is this entry's
    // (another query in flight may replace the cache's entry meanwhile).
    const sent = new Map(tokenHashes.map((tokenHash) => [tokenHash, cache.held(tokenHash)]));
    const { name, text, values } = sessionContextsStatement(tokenHashes.map((tokenHash) => ({ tokenHash, known: sent.get(tokenHash)?.version ?? '' })));
    // A named statement spares the server parsing and planning this join on every query.
    const answers = (await prepared(name, text, values)) as unknown as VersionedSessionRow[];
    const found = new Map<string, SessionContextRow>();
    for (const { sTokenHash, version, row } of answers) {
      const held = sent.get(sTokenHash);
      if (row === null) {
        // No columns: the version is the one sent, so the row held is the row as it is now.
        if (!held || held.version !== version) throw new Error('session check: the database confirmed a version this query did not send');
        found.set(sTokenHash, held.row);
      } else {
        const read = sessionContextFromJson(row);
        cache.keep(sTokenHash, { version, row: read });
        found.set(sTokenHash, read);
      }
    }
    for (const tokenHash of tokenHashes) if (!found.has(tokenHash)) cache.forget(tokenHash);
    return found;
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
    await this.run('touchSession', (id: string, now: number) => this.db.updateTable('sessions').set({ lastSeenAt: now }).where('id', '=', id).where('lastSeenAt', '<', now), id, now);
  }

  async revokeSession(id: string, now: number): Promise<void> {
    await this.run('revokeSession', (id: string, now: number) => this.db.updateTable('sessions').set({ revokedAt: now }).where('id', '=', id).where('revokedAt', 'is', null), id, now);
  }

  async revokeSessionByToken(tokenHash: string, userId: string, now: number): Promise<void> {
    await this.run(
      'revokeSessionByToken',
      (tokenHash: string, userId: string, now: number) => this.db.updateTable('sessions').set({ revokedAt: now }).where('tokenHash', '=', tokenHash).where('userId', '=', userId).where('revokedAt', 'is', null),
      tokenHash,
      userId,
      now,
    );
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
    const r = report;
    await this.run(
      'insertSignInReport',
      (id: string, userId: string, accountDeviceId: string, createdAt: number, expiresAt: number, usedAt: number | null) =>
        this.db.insertInto('signInReports').values({ id, userId, accountDeviceId, createdAt, expiresAt, usedAt }),
      r.id,
      r.userId,
      r.accountDeviceId,
      r.createdAt,
      r.expiresAt,
      r.usedAt,
    );
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
    await this.run(
      'recordAudit',
      (id: string, at: number, event: string, outcome: string, userId: string | null, companyId: string | null, ip: string | null, deviceId: string | null, userAgent: string | null, detail: string | null) =>
        this.db.insertInto('auditEvents').values({ id, at, event, outcome, userId, companyId, ip, deviceId, userAgent, detail }),
      newId(),
      at,
      event.event,
      event.outcome,
      event.userId ?? null,
      event.companyId ?? null,
      event.ip ?? null,
      event.deviceId ?? null,
      event.userAgent ?? null,
      event.detail ? JSON.stringify(event.detail) : null,
    );
  }

  // Outbox

  async enqueueMessage(message: OutgoingMessage, now: number): Promise<string> {
    const id = newId();
    await this.run(
      'enqueueMessage',
      (id: string, now: number, channel: string, template: string, recipient: string, locale: string, payload: string) =>
        this.db.insertInto('outbox').values({ id, createdAt: now, channel, template, recipient, locale, payload, status: 'pending', nextAttemptAt: now }),
      id,
      now,
      message.channel,
      message.template,
      message.recipient,
      message.locale,
      JSON.stringify(message.payload),
    );
    return id;
  }

  async claimDueMessages(now: number, leaseMs: number, limit: number): Promise<QueuedMessage[]> {
    // A lease instead of a long lock: a dispatcher that dies mid-delivery frees its rows when the lease ends.
    const { rows } = await this.run(
      'claimDueMessages',
      (now: number, leasedUntil: number, limit: number) => {
        const due = this.db
          .selectFrom('outbox')
          .select('id')
          .where('status', '=', 'pending')
          .where('nextAttemptAt', '<=', now)
          .where((eb) => eb.or([eb('leasedUntil', 'is', null), eb('leasedUntil', '<=', now)]))
          .orderBy('nextAttemptAt')
          .limit(limit);
        return this.db
          .updateTable('outbox')
          .set((eb) => ({ leasedUntil, attempts: eb('attempts', '+', 1) }))
          .where('id', 'in', this.kind === 'postgres' ? due.forUpdate().skipLocked() : due)
          .where('status', '=', 'pending')
          .returning(['id', 'createdAt', 'channel', 'template', 'recipient', 'locale', 'payload', 'attempts']);
      },
      now,
      now + leaseMs,
      limit,
    );
    return rows.map((row) => ({
      ...row,
      channel: row.channel as Channel,
      locale: row.locale as Locale,
      payload: JSON.parse(row.payload) as QueuedMessage['payload'],
    }));
  }

  async markMessageSent(id: string, now: number): Promise<void> {
    await this.run('markMessageSent', (id: string, now: number) => this.db.updateTable('outbox').set({ status: 'sent', sentAt: now, leasedUntil: null, lastError: null }).where('id', '=', id), id, now);
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
    await this.run(
      'markMessageFailed',
      (id: string, status: string, nextAttemptAt: number, lastError: string) => this.db.updateTable('outbox').set({ status, nextAttemptAt, leasedUntil: null, lastError }).where('id', '=', id),
      id,
      dead ? 'dead' : 'pending',
      nextAttemptAt,
      error.slice(0, 500),
    );
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
