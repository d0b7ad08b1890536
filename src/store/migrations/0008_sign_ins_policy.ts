// The sign-in log (one row per attempt with a known account), company policy on SMS, who verified personal data, confirmations by purpose.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sign_ins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('account_device_id', 'text')
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('new_device', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reason', 'text')
    .execute();
  await db.schema.createIndex('sign_ins_company_at_idx').on('sign_ins').columns(['company_id', 'at']).execute();
  await db.schema.createIndex('sign_ins_user_at_idx').on('sign_ins').columns(['user_id', 'at']).execute();

  await db.schema.alterTable('companies').addColumn('sms_allowed', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('users').addColumn('personal_data_verified_by', 'text').execute();
  await db.schema.alterTable('phone_changes').addColumn('purpose', 'text', (c) => c.notNull().defaultTo('phone')).execute();
  await db.schema.createIndex('account_devices_user_idx').on('account_devices').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('account_devices_user_idx').execute();
  await db.schema.alterTable('phone_changes').dropColumn('purpose').execute();
  await db.schema.alterTable('users').dropColumn('personal_data_verified_by').execute();
  await db.schema.alterTable('companies').dropColumn('sms_allowed').execute();
  await db.schema.dropTable('sign_ins').execute();
}
