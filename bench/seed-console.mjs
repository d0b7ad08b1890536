// Seeds a large company for the console benchmark: employees, a verified representative, and a long sign-in log.
import argon2 from 'argon2';
import { sql } from 'kysely';
import { openDatabase } from '../dist/store/db.js';
import { BENCH_PASSWORD, seedAccounts } from './seed.mjs';

export async function seedCompanyConsole(databaseUrl, { employees, signIns }) {
  const companyId = await seedAccounts(databaseUrl, employees, { twoFactor: false });
  const database = openDatabase(databaseUrl);
  const db = database.db;
  const now = Date.now();
  const hash = await argon2.hash(BENCH_PASSWORD, { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 });
  const repEmail = 'rep@bench.example';
  await db
    .insertInto('users')
    .values({
      id: 'bench-rep',
      companyId,
      email: repEmail,
      emailNormalized: repEmail,
      displayName: 'Bench Representative',
      passwordHash: hash,
      phone: null,
      locale: 'en',
      role: 'authorized',
      personalDataVerifiedAt: now,
      twoFactorEnabledAt: null,
      preferredChannel: null,
      emailVerifiedAt: null,
      phoneVerifiedAt: null,
      verificationLockedUntil: null,
      passwordChangeRequired: 0,
      notificationPreference: 'immediate',
      createdAt: now,
      updatedAt: now,
    })
    .execute();
  const series =
    database.kind === 'postgres'
      ? sql`select g as n from generate_series(1, ${sql.lit(signIns)}) g`
      : sql`with recursive s(n) as (select 1 union all select n + 1 from s where n < ${sql.lit(signIns)}) select n from s`;
  // Integers are inlined (sql.lit): bound JS numbers would reach SQLite as REAL.
  // Spread over 90 days and over all employees; every tenth is a new device, every thirteenth a failure.
  // A bulk load: no bound on query time.
  await database.unbounded(() => sql`
    insert into sign_ins (id, at, user_id, company_id, account_device_id, ip, user_agent, outcome, new_device, reason)
    select 'bench-sign-in-' || n, ${sql.lit(now)} - ((n * 7919) % 7776000) * 1000, 'bench-user-' || (1 + (n * 31) % ${sql.lit(employees)}), ${companyId}, null,
      '192.0.2.' || (n % 250), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      case when n % 13 = 0 then 'failure' else 'success' end, case when n % 10 = 0 then 1 else 0 end,
      case when n % 13 = 0 then 'invalid_password' else null end
    from (${series}) as numbers`.execute(db));
  await database.close();
  return { companyId, repEmail, sampleEmployeeId: 'bench-user-42' };
}
