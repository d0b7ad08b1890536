// Verification challenges per (account, browser), and wrong-code events counted per account.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
    .addColumn('pending_token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('consumed_at', 'bigint')
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('email_sent_at', 'bigint')
    .addColumn('sms_sent_at', 'bigint')
    .execute();
  await db.schema.createIndex('challenges_user_device_idx').on('challenges').columns(['user_id', 'device_id', 'expires_at']).execute();

  await db.schema
    .createTable('code_failures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('code_failures_user_at_idx').on('code_failures').columns(['user_id', 'at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('code_failures').execute();
  await db.schema.dropTable('challenges').execute();
}
