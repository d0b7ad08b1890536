// Covering indexes for the sign-in log, so a deep page is read from the index alone before rows are joined.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sign_ins_company_page_idx').on('sign_ins').columns(['company_id', 'at', 'id']).execute();
  await db.schema.createIndex('sign_ins_user_page_idx').on('sign_ins').columns(['user_id', 'at', 'id']).execute();
  await db.schema.dropIndex('sign_ins_company_at_idx').execute();
  await db.schema.dropIndex('sign_ins_user_at_idx').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sign_ins_company_at_idx').on('sign_ins').columns(['company_id', 'at']).execute();
  await db.schema.createIndex('sign_ins_user_at_idx').on('sign_ins').columns(['user_id', 'at']).execute();
  await db.schema.dropIndex('sign_ins_company_page_idx').execute();
  await db.schema.dropIndex('sign_ins_user_page_idx').execute();
}
