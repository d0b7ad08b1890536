// The store on SQLite and PostgreSQL: migrations apply and re-apply, and the security counters are atomic under concurrency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { newId } from '../../src/domain/tokens.js';
import type { AccountDeviceRecord, SessionRecord } from '../../src/flows/ports.js';
import { openDatabase, type OpenDatabase } from '../../src/store/db.js';
import { KyselyStore } from '../../src/store/kysely-store.js';
import { QueryTemplates } from '../../src/store/queryTemplates.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import * as migration0012 from '../../src/store/migrations/0012_email_idn.js';
import { createLimiters } from '../../src/store/rateLimits.js';
import { POSTGRES_SKIP_REASON, POSTGRES_URL, postgresDatabase, sqliteDatabase, type TestDatabase } from '../helpers/databases.js';

if (!POSTGRES_URL) console.warn(POSTGRES_SKIP_REASON);

const kinds = [
  ['SQLite', async () => sqliteDatabase()],
  ['PostgreSQL', async () => postgresDatabase(POSTGRES_URL ?? '')],
] as const;

describe.each(kinds)('store on %s', (kind, create) => {
  const skip = kind === 'PostgreSQL' && !POSTGRES_URL;
  let testDb: TestDatabase;
  let database: OpenDatabase;
  let store: KyselyStore;
  const now = Date.UTC(2026, 10, 28, 12);

  beforeAll(async () => {
    if (skip) return;
    testDb = await create();
    database = openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselyStore(database.db, database.kind, database.prepared, database.readVersion, new QueryTemplates({ compiled: database.keepPrepared }));
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  async function challengeFixture() {
    const companyId = newId();
    const userId = newId();
    const deviceId = newId();
    await store.insertCompany({ id: companyId, name: 'Acme', createdAt: now, requireVerificationAt: null, trustedDeviceDays: null, smsAllowed: true });
    await store.insertUser({
      id: userId, companyId, email: `${userId}@acme.example`, displayName: 'U', passwordHash: 'x', phone: null, locale: 'en', role: 'employee',
      personalDataVerifiedAt: null, twoFactorEnabledAt: now, preferredChannel: null, emailVerifiedAt: null, phoneVerifiedAt: null,
      verificationLockedUntil: null, passwordChangeRequired: false, notificationPreference: 'immediate', timeZone: null, personalDataVerifiedBy: null, createdAt: now, updatedAt: now,
    });
    const deviceTokenHash = newId();
    await store.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now }, deviceTokenHash);
    const challenge = { id: newId(), userId, deviceId, openedAt: now, expiresAt: now + 900_000, attempts: 0, consumedAt: null, ip: '127.0.0.1', emailSentAt: null, smsSentAt: null };
    const pendingTokenHash = newId();
    await store.insertChallenge(challenge, pendingTokenHash);
    return { challenge, userId, deviceTokenHash, pendingTokenHash };
  }

  /** A signed-in browser of the account: its device, its link and a session. */
  async function sessionFixture(userId: string) {
    const deviceId = newId();
    await store.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now }, newId());
    const link = { id: newId(), userId, deviceId, firstSignInAt: now, lastSignInAt: now, lastIp: '127.0.0.1', userAgent: 'test', trustedAt: null, trustedUntil: null, revokedAt: null };
    await store.insertAccountDevice(link);
    const session = { id: newId(), userId, accountDeviceId: link.id, createdAt: now, lastSeenAt: now, revokedAt: null, ip: '127.0.0.1', userAgent: 'test', trusted: false };
    const tokenHash = newId();
    await store.insertSession(session, tokenHash);
    return { session, tokenHash };
  }

  it.skipIf(skip)('an internationalized domain is one address in either form; migration 0012 moves old rows to the ASCII form', async () => {
    const user = (email: string) => ({
      id: newId(), companyId: 'idn-co', email, displayName: 'U', passwordHash: 'x', phone: null, locale: 'en' as const, role: 'employee' as const,
      personalDataVerifiedAt: null, twoFactorEnabledAt: now, preferredChannel: null, emailVerifiedAt: null, phoneVerifiedAt: null,
      verificationLockedUntil: null, passwordChangeRequired: false, notificationPreference: 'immediate' as const, timeZone: null, personalDataVerifiedBy: null, createdAt: now, updatedAt: now,
    });
    await store.insertCompany({ id: 'idn-co', name: 'IDN', createdAt: now, requireVerificationAt: null, trustedDeviceDays: null, smsAllowed: true });
    const unicode = user('anna@Bücher.example');
    await store.insertUser(unicode);
    expect((await store.findUserByEmail('anna@xn--bcher-kva.example'))?.id).toBe(unicode.id);
    expect((await store.findUserByEmail('ANNA@bücher.example'))?.id).toBe(unicode.id);

    // Rows written by an older version hold the Unicode form; two of them name one mailbox twice.
    const old = user('olek@żółw.example');
    const twinAscii = user('ewa@xn--bcher-kva.example');
    const twinUnicode = user('ewa-twin@placeholder.example');
    for (const row of [old, twinAscii, twinUnicode]) await store.insertUser(row);
    const raw = database.db;
    await raw.updateTable('users').set({ emailNormalized: 'olek@żółw.example' }).where('id', '=', old.id).execute();
    await raw.updateTable('users').set({ email: 'ewa@bücher.example', emailNormalized: 'ewa@bücher.example' }).where('id', '=', twinUnicode.id).execute();
    await migration0012.up(raw as unknown as Parameters<typeof migration0012.up>[0]);
    const normalized = async (id: string) => (await raw.selectFrom('users').select('emailNormalized').where('id', '=', id).executeTakeFirstOrThrow()).emailNormalized;
    expect(await normalized(old.id)).toBe('olek@xn--w-uga1v8h.example');
    expect((await store.findUserByEmail('olek@żółw.example'))?.id).toBe(old.id);
    // The twin in ASCII form keeps the address; the other row is left as it was.
    expect((await store.findUserByEmail('ewa@bücher.example'))?.id).toBe(twinAscii.id);
    expect(await normalized(twinUnicode.id)).toBe('ewa@bücher.example');
  });

  it.skipIf(skip)('a rehash replaces the password hash only while it is the one that was checked; a sign-in holds it the same way', async () => {
    const { userId } = await challengeFixture();
    await store.updateUser(userId, { passwordHash: 'changed' }, now);
    await store.replacePasswordHash(userId, 'x', 'rehashed-old', now);
    expect((await store.findUserById(userId))?.passwordHash).toBe('changed');
    expect(await store.holdPassword(userId, 'x')).toBe(false);
    expect(await store.holdPassword(userId, 'changed')).toBe(true);
    await store.replacePasswordHash(userId, 'changed', 'rehashed', now);
    expect((await store.findUserById(userId))?.passwordHash).toBe('rehashed');
  });

  it.skipIf(skip || kind !== 'PostgreSQL')('sign-in queries run as prepared statements on PostgreSQL, parsed once per connection, and answer as before', async () => {
    const { challenge, userId, deviceTokenHash, pendingTokenHash } = await challengeFixture();
    await database.db.connection().execute(async (connection) => {
      const onOne = new KyselyStore(connection, database.kind, undefined, undefined, new QueryTemplates({ compiled: database.keepPrepared }));
      for (let i = 0; i < 2; i++) {
        const found = await onOne.findPendingChallenge(pendingTokenHash, deviceTokenHash);
        expect(found?.challenge).toEqual(challenge);
        expect(found?.user.id).toBe(userId);
        expect((await onOne.findAccountByEmail(`${userId.toUpperCase()}@ACME.example`))?.user.id).toBe(userId);
      }
      const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements where name like 'doorman_q%'`.execute(connection);
      expect(rows.map((row) => row.statement).filter((text) => text.includes('"challenges"."pending_token_hash"'))).toHaveLength(1);
      expect(rows.some((row) => row.statement.includes('"users"."email_normalized"'))).toBe(true);
    });
  });

  it.skipIf(skip || kind !== 'PostgreSQL')('after another instance changes the type of a column a prepared statement returns, each connection fails once at most, then prepares afresh', async () => {
    // A database of its own: the change would put every other test's prepared statements out of date.
    const ownDb = await postgresDatabase(POSTGRES_URL ?? '');
    const own = openDatabase(ownDb.url);
    try {
      await migrateToLatest(own.db);
      const ownStore = new KyselyStore(own.db, own.kind, own.prepared, own.readVersion, new QueryTemplates({ compiled: own.keepPrepared }));
      const companyId = newId();
      const userId = newId();
      await ownStore.insertCompany({ id: companyId, name: 'Acme', createdAt: now, requireVerificationAt: null, trustedDeviceDays: null, smsAllowed: true });
      await ownStore.insertUser({
        id: userId, companyId, email: 'ann@acme.example', displayName: 'Ann', passwordHash: 'x', phone: null, locale: 'en', role: 'employee',
        personalDataVerifiedAt: null, twoFactorEnabledAt: now, preferredChannel: null, emailVerifiedAt: null, phoneVerifiedAt: null,
        verificationLockedUntil: null, passwordChangeRequired: false, notificationPreference: 'immediate', timeZone: null, personalDataVerifiedBy: null, createdAt: now, updatedAt: now,
      });
      // Prepared on several connections at once.
      await Promise.all(Array.from({ length: 10 }, () => ownStore.findAccountByEmail('ann@acme.example')));
      const other = openDatabase(ownDb.url);
      await sql`alter table users alter column display_name type varchar(300)`.execute(other.db);
      await other.close();
      const outcomes: string[] = [];
      for (let i = 0; i < 15; i++) outcomes.push(await ownStore.findAccountByEmail('ann@acme.example').then((found) => found?.user.displayName ?? 'none', (error: { code?: string }) => error.code ?? 'error'));
      const failures = outcomes.filter((outcome) => outcome !== 'Ann');
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.length).toBeLessThanOrEqual(10);
      expect(new Set(failures)).toEqual(new Set(['0A000']));
      expect(outcomes.slice(-5)).toEqual(['Ann', 'Ann', 'Ann', 'Ann', 'Ann']);
    } finally {
      await own.close();
      await ownDb.drop();
    }
  });

  it.skipIf(skip)('migrations are applied once; running them again changes nothing', async () => {
    expect(await migrateToLatest(database.db)).toEqual([]);
  });

  it.skipIf(skip)('20 parallel wrong-code counts stop at the cap of 5', async () => {
    const { challenge } = await challengeFixture();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.transaction((tx) => tx.addChallengeAttempt(challenge.id, 5))));
    expect(results.filter((r) => r !== undefined).sort()).toEqual([1, 2, 3, 4, 5]);
    expect((await store.findChallenge(challenge.id))?.attempts).toBe(5);
    expect(await store.consumeChallenge(challenge.id, now, 5)).toBe(false);
  });

  it.skipIf(skip)('10 parallel sends on one channel claim once; the other channel is independent', async () => {
    const { challenge } = await challengeFixture();
    const claims = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => tx.claimChallengeSend(challenge.id, 'email', now, 60_000))));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await store.claimChallengeSend(challenge.id, 'sms', now + 1, 60_000)).toBeTruthy();
    expect(await store.claimChallengeSend(challenge.id, 'email', now + 59_999, 60_000)).toBeUndefined();
    expect(await store.claimChallengeSend(challenge.id, 'email', now + 60_000, 60_000)).toBeTruthy();
  });

  it.skipIf(skip)('a challenge is consumed once, and not after it expired', async () => {
    const { challenge } = await challengeFixture();
    const results = await Promise.all(Array.from({ length: 5 }, () => store.transaction((tx) => tx.consumeChallenge(challenge.id, now, 5))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const late = await challengeFixture();
    expect(await store.consumeChallenge(late.challenge.id, late.challenge.expiresAt, 5)).toBe(false);
  });

  it.skipIf(skip)('the verification lock is set once while in force', async () => {
    const { userId } = await challengeFixture();
    const results = await Promise.all(Array.from({ length: 5 }, () => store.lockVerification(userId, now + 3_600_000, now)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.lockVerification(userId, now + 7_200_000, now + 3_600_000)).toBe(true);
  });

  it.skipIf(skip)('outbox rows are claimed by one dispatcher at a time', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, () => store.enqueueMessage({ channel: 'email', template: 't', recipient: 'a@b.c', locale: 'en', payload: {} }, now)));
    const [a, b] = await Promise.all([store.claimDueMessages(now, 60_000, 10), store.claimDueMessages(now, 60_000, 10)]);
    const claimed = [...a!, ...b!].map((m) => m.id).filter((id) => ids.includes(id));
    expect(claimed.sort()).toEqual([...ids].sort());
    expect(await store.claimDueMessages(now + 1, 60_000, 10)).toEqual([]);
    // When the lease runs out (a dispatcher died), the rows are claimed again.
    expect((await store.claimDueMessages(now + 60_000, 60_000, 10)).length).toBeGreaterThanOrEqual(6);
  });

  it.skipIf(skip)('a message given up on is listed for the operator and can be put back in line', async () => {
    const id = await store.enqueueMessage({ channel: 'email', template: 'dead-letter', recipient: 'a@b.c', locale: 'en', payload: {} }, now);
    await store.markMessageFailed(id, now + 1000, 'Error: connection refused', true);
    const stuck = await store.listStuckMessages(1000);
    expect(stuck.find((m) => m.id === id)).toMatchObject({ status: 'dead', lastError: 'Error: connection refused' });
    expect(await store.retryMessage(id, now + 5)).toBe(true);
    const again = await store.claimDueMessages(now + 5, 60_000, 100);
    expect(again.map((m) => m.id)).toContain(id);
    await store.markMessageSent(id, now + 6);
    expect((await store.listStuckMessages(1000)).find((m) => m.id === id)).toBeUndefined();
    expect(await store.retryMessage(id, now + 7)).toBe(false);
  });

  it.skipIf(skip)('rate limits live in the same database and refuse past the budget', async () => {
    const { probe } = await createLimiters(database, { probe: { points: 3, durationSeconds: 60 } });
    const key = newId();
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await probe.consume(key)).allowed);
    expect(results).toEqual([true, true, true, false]);
    expect((await probe.check(key)).allowed).toBe(false);
    // A refused event still counts (the library records it), so two refunds reopen the budget.
    await probe.refund(key);
    await probe.refund(key);
    expect((await probe.check(key)).allowed).toBe(true);
  });

  it.skipIf(skip)('a refund never takes a count below zero, nor into a window that has ended', async () => {
    const { short } = await createLimiters(database, { short: { points: 2, durationSeconds: 1 } });
    const key = newId();
    // Refunds with nothing counted give nothing.
    await short.refund(key);
    await short.refund(key);
    expect([(await short.consume(key)).allowed, (await short.consume(key)).allowed, (await short.consume(key)).allowed]).toEqual([true, true, false]);
    // A refund arriving after the window ended does not enlarge the next one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await short.refund(key);
    expect([(await short.consume(key)).allowed, (await short.consume(key)).allowed, (await short.consume(key)).allowed]).toEqual([true, true, false]);
  });

  it.skipIf(skip)('a session check sees a revocation at once, whether this store or another connection wrote it', async () => {
    const { userId } = await challengeFixture();
    const other = openDatabase(testDb.url);
    const otherStore = new KyselyStore(other.db, other.kind, other.prepared, other.readVersion);
    const openSession = () => sessionFixture(userId);
    try {
      const mine = await openSession();
      const theirs = await openSession();
      for (const { tokenHash } of [mine, theirs]) {
        // Asked twice: the second answer may come from memory.
        expect((await store.findSessionContext(tokenHash))?.session.revokedAt).toBeNull();
        expect((await store.findSessionContext(tokenHash))?.session.revokedAt).toBeNull();
      }
      await store.revokeSession(mine.session.id, now + 1);
      expect((await store.findSessionContext(mine.tokenHash))?.session.revokedAt).toBe(now + 1);
      await otherStore.revokeSession(theirs.session.id, now + 2);
      expect((await store.findSessionContext(theirs.tokenHash))?.session.revokedAt).toBe(now + 2);
      await otherStore.updateCompany((await store.findUserById(userId))!.companyId, { requireVerificationAt: now + 3 });
      expect((await store.findSessionContext(mine.tokenHash))?.company.requireVerificationAt).toBe(now + 3);
      // A write that returns rows (UPDATE … RETURNING), outside any transaction, counts too.
      expect(await store.lockVerification(userId, now + 900_000, now + 4)).toBe(true);
      expect((await store.findSessionContext(mine.tokenHash))?.user.verificationLockedUntil).toBe(now + 900_000);
    } finally {
      await other.close();
    }
  });

  it.skipIf(skip)('checks that keep coming while another connection revokes: every check asked after the revocation sees it (on PostgreSQL, with two queries for the same key in flight at once)', async () => {
    const { userId } = await challengeFixture();
    const other = openDatabase(testDb.url);
    const otherStore = new KyselyStore(other.db, other.kind, other.prepared, other.readVersion);
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    // On PostgreSQL, queries run two at a time: count those asking for the victim while another one does.
    let victimKey = '';
    let victimQueries = 0;
    let overlapping = 0;
    const prepared: OpenDatabase['prepared'] = database.prepared && (async (name, text, values) => {
      const asksVictim = values.includes(victimKey);
      if (asksVictim && victimQueries++ > 0) overlapping++;
      try {
        return await database.prepared!(name, text, values);
      } finally {
        if (asksVictim) victimQueries--;
      }
    });
    const checker = new KyselyStore(database.db, database.kind, prepared, database.readVersion);
    try {
      for (let round = 0; round < 8; round++) {
        const victim = await sessionFixture(userId);
        victimKey = victim.tokenHash;
        const bystanders = await Promise.all(Array.from({ length: 4 }, () => sessionFixture(userId)));
        // Held in memory before the stream starts: only the database's answer may say it changed.
        expect((await checker.findSessionContext(victim.tokenHash))?.session.revokedAt).toBeNull();
        const revokedAt = now + 100 + round;
        let committed = false;
        const before: Promise<unknown>[] = [];
        const after: Promise<Awaited<ReturnType<KyselyStore['findSessionContext']>>>[] = [];
        const bystanderChecks: Promise<Awaited<ReturnType<KyselyStore['findSessionContext']>>>[] = [];
        // One check of the victim, and one of a bystander, per turn of the event loop: each query
        // leaves for the database while the next checks of the same key are being asked.
        const stream = (async () => {
          for (let i = 0; after.length < 40; i++) {
            const check = checker.findSessionContext(victim.tokenHash);
            (committed ? after : before).push(check);
            bystanderChecks.push(checker.findSessionContext(bystanders[i % bystanders.length]!.tokenHash));
            await tick();
          }
        })();
        for (let i = 0; i < round * 3; i++) await tick();
        await otherStore.revokeSession(victim.session.id, revokedAt);
        committed = true;
        await stream;
        await Promise.all(before);
        for (const [i, context] of (await Promise.all(after)).entries()) expect(context?.session.revokedAt, `round ${round}, check ${i} after the revocation`).toBe(revokedAt);
        for (const context of await Promise.all(bystanderChecks)) expect(context?.session.revokedAt).toBeNull();
      }
      if (kind === 'PostgreSQL') expect(overlapping).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it.skipIf(kind !== 'PostgreSQL' || skip)('a session read before comes back as its version alone while its rows are unchanged, and whole again once any of them changes', async () => {
    const { userId } = await challengeFixture();
    const { session, tokenHash } = await sessionFixture(userId);
    const answers: { row: unknown }[][] = [];
    const prepared: NonNullable<OpenDatabase['prepared']> = async (name, text, values) => {
      const rows = await database.prepared!(name, text, values);
      answers.push(rows as { row: unknown }[]);
      return rows;
    };
    const watched = new KyselyStore(database.db, database.kind, prepared, undefined);
    const other = openDatabase(testDb.url);
    const otherStore = new KyselyStore(other.db, other.kind, other.prepared, other.readVersion);
    const check = async () => {
      const context = await watched.findSessionContext(tokenHash);
      return { context, whole: answers.at(-1)?.[0]?.row !== null };
    };
    try {
      const first = await check();
      expect(first.whole).toBe(true);
      const again = await check();
      expect(again.whole).toBe(false);
      expect(again.context).toEqual(first.context);
      expect(again.context?.session).toEqual(session);

      // Each of the four rows, changed by another connection: read whole, with the change.
      const user = (await store.findUserById(userId))!;
      const changes: [string, () => Promise<unknown>, (context: Awaited<ReturnType<typeof check>>['context']) => unknown, unknown][] = [
        ['session', () => otherStore.touchSession(session.id, now + 60_000), (c) => c?.session.lastSeenAt, now + 60_000],
        ['user', () => otherStore.lockVerification(userId, now + 900_000, now + 1), (c) => c?.user.verificationLockedUntil, now + 900_000],
        ['link', () => otherStore.revokeAccountDevice(session.accountDeviceId, now + 2), (c) => c?.link.revokedAt, now + 2],
        ['company', () => otherStore.updateCompany(user.companyId, { trustedDeviceDays: 7 }), (c) => c?.company.trustedDeviceDays, 7],
        ['session again', () => otherStore.revokeSession(session.id, now + 3), (c) => c?.session.revokedAt, now + 3],
      ];
      for (const [row, change, read, expected] of changes) {
        await change();
        const changed = await check();
        expect(changed.whole, row).toBe(true);
        expect(read(changed.context), row).toBe(expected);
        const unchanged = await check();
        expect(unchanged.whole, row).toBe(false);
        expect(unchanged.context, row).toEqual(changed.context);
      }

      // A column dropped and added again (a migration's down and up) changes values without
      // writing new row versions: the version's hash of the columns still tells.
      await sql`alter table companies drop column trusted_device_days`.execute(database.db);
      await sql`alter table companies add column trusted_device_days integer not null default 30`.execute(database.db);
      try {
        const reread = await check();
        expect(reread.whole).toBe(true);
        expect(reread.context?.company.trustedDeviceDays).toBe(30);
      } finally {
        await sql`alter table companies drop column trusted_device_days`.execute(database.db);
        await sql`alter table companies add column trusted_device_days integer`.execute(database.db);
      }
    } finally {
      await other.close();
    }
  });

  it.skipIf(kind !== 'SQLite')('the SQLite connection writes ahead (WAL, synced at checkpoints) and keeps 8 MB of pages', () => {
    const sqlite = database.raw as import('better-sqlite3').Database;
    expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(sqlite.pragma('synchronous', { simple: true })).toBe(1);
    expect(sqlite.pragma('cache_size', { simple: true })).toBe(-8000);
  });

  it.skipIf(kind !== 'SQLite')('checks asked together read the database version once, after the last of them was asked', async () => {
    const { userId } = await challengeFixture();
    const sessions = await Promise.all(Array.from({ length: 20 }, () => sessionFixture(userId)));
    let versionReads = 0;
    const counted = new KyselyStore(database.db, database.kind, database.prepared, () => (versionReads++, database.readVersion!()));
    const other = openDatabase(testDb.url);
    const otherStore = new KyselyStore(other.db, other.kind, other.prepared, other.readVersion);
    try {
      const first = await Promise.all(sessions.map(({ tokenHash }) => counted.findSessionContext(tokenHash)));
      expect(first.map((context) => context?.session.id)).toEqual(sessions.map(({ session }) => session.id));
      expect(versionReads).toBe(1);
      // Answered from memory now: one more reading of the version for all twenty.
      await Promise.all(sessions.map(({ tokenHash }) => counted.findSessionContext(tokenHash)));
      expect(versionReads).toBe(2);

      // A check asked before another connection's revocation, and one asked after it in the same
      // turn: both are answered after the revocation, so neither sees the session as active.
      const [victim] = sessions;
      const before = counted.findSessionContext(victim!.tokenHash);
      await otherStore.revokeSession(victim!.session.id, now + 5);
      const after = counted.findSessionContext(victim!.tokenHash);
      expect((await after)?.session.revokedAt).toBe(now + 5);
      expect((await before)?.session.revokedAt).toBe(now + 5);
    } finally {
      await other.close();
    }
  });

  it.skipIf(skip)('a sign-in reads the account with its company, and the browser with its link to that account only', async () => {
    const { userId } = await challengeFixture();
    const user = (await store.findUserById(userId))!;
    const account = await store.findAccountByEmail(user.email.toUpperCase());
    expect(account?.user).toEqual(user);
    expect(account?.company).toEqual(await store.findCompany(user.companyId));
    expect(account?.company.smsAllowed).toBe(true);
    expect(await store.findAccountByEmail('nobody@acme.example')).toBeUndefined();

    const other = (await store.findUserById((await challengeFixture()).userId))!;
    const deviceId = newId();
    const tokenHash = newId();
    await store.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now + 1 }, tokenHash);
    expect(await store.findDeviceForAccount(newId(), userId)).toBeUndefined();
    expect(await store.findDeviceForAccount(tokenHash, userId)).toEqual({ device: { id: deviceId, createdAt: now, lastSeenAt: now + 1 }, link: undefined });
    // Another account's link to the same browser is not this account's.
    const theirs = { id: newId(), userId: other.id, deviceId, firstSignInAt: now, lastSignInAt: now, lastIp: '10.0.0.2', userAgent: 'theirs', trustedAt: now, trustedUntil: now + 1000, revokedAt: null };
    await store.insertAccountDevice(theirs);
    expect((await store.findDeviceForAccount(tokenHash, userId))?.link).toBeUndefined();
    expect((await store.findDeviceForAccount(tokenHash, other.id))?.link).toEqual(theirs);

    expect(await store.updateAccountDevice(userId, deviceId, { lastSignInAt: now + 5 })).toBeUndefined();
    const updated = { ...theirs, lastSignInAt: now + 5, lastIp: '10.0.0.3' };
    expect(await store.updateAccountDevice(other.id, deviceId, { lastSignInAt: now + 5, lastIp: '10.0.0.3' })).toEqual(updated);
    expect((await store.findDeviceForAccount(tokenHash, other.id))?.link).toEqual(updated);
  });

  it.skipIf(skip)('a pending challenge is found with its account and company only through the browser it was opened for', async () => {
    const { challenge, userId, deviceTokenHash, pendingTokenHash } = await challengeFixture();
    const user = (await store.findUserById(userId))!;
    expect(await store.findPendingChallenge(pendingTokenHash, deviceTokenHash)).toEqual({ challenge, user, company: await store.findCompany(user.companyId) });
    const other = await challengeFixture();
    expect(await store.findPendingChallenge(pendingTokenHash, other.deviceTokenHash)).toBeUndefined();
    expect(await store.findPendingChallenge(newId(), deviceTokenHash)).toBeUndefined();
  });

  it.skipIf(skip).each([1, 3, 12, 70])('%i concurrent session checks each get their own session, and an unknown token none', async (count) => {
    const { userId } = await challengeFixture();
    const sessions: { session: SessionRecord; link: AccountDeviceRecord; tokenHash: string }[] = [];
    for (let i = 0; i < count; i++) {
      const deviceId = newId();
      await store.insertDevice({ id: deviceId, createdAt: now, lastSeenAt: now }, newId());
      const link = { id: newId(), userId, deviceId, firstSignInAt: now, lastSignInAt: now, lastIp: '127.0.0.1', userAgent: `agent ${i}`, trustedAt: null, trustedUntil: null, revokedAt: null };
      await store.insertAccountDevice(link);
      const session = { id: newId(), userId, accountDeviceId: link.id, createdAt: now, lastSeenAt: now + i, revokedAt: null, ip: `10.0.0.${i}`, userAgent: `agent ${i}`, trusted: i % 2 === 0 };
      const tokenHash = newId();
      await store.insertSession(session, tokenHash);
      sessions.push({ session, link, tokenHash });
    }
    const asked = [...sessions, ...sessions].map(({ tokenHash }) => tokenHash).concat(newId());
    const found = await Promise.all(asked.map((tokenHash) => store.findSessionContext(tokenHash)));
    expect(found.at(-1)).toBeUndefined();
    found.slice(0, -1).forEach((context, i) => {
      const { session, link } = sessions[i % sessions.length]!;
      expect(context?.session, `session ${i}`).toEqual(session);
      expect(context?.link.id, `session ${i}`).toBe(link.id);
      expect(context?.user.id, `session ${i}`).toBe(userId);
    });
    // Read alone, inside a transaction: the same answer.
    const [first] = sessions;
    expect((await store.transaction((tx) => tx.findSessionContext(first!.tokenHash)))?.session).toEqual(first!.session);
    expect(await store.transaction((tx) => tx.findSessionContext(''))).toBeUndefined();
    expect(await store.findSessionContext('')).toBeUndefined();
  });
});
