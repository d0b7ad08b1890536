// The table rate-limiter-flexible keeps its counters in (created here so instances never race to create it),
// and the index that finds a company's representatives without reading every employee.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The same shape the library would create itself (key, points, expire in epoch milliseconds).
  await db.schema
    .createTable('doorman_rate_limits')
    .ifNotExists()
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
  await db.schema.createIndex('users_company_role_idx').on('users').columns(['company_id', 'role']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('users_company_role_idx').execute();
  await db.schema.dropTable('doorman_rate_limits').execute();
}
