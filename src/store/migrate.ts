// Applies the numbered migrations in order; the same files run on SQLite and PostgreSQL.
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001_companies_users.js';
import * as m0002 from './migrations/0002_devices.js';
import * as m0003 from './migrations/0003_challenges.js';
import * as m0004 from './migrations/0004_sessions.js';
import * as m0005 from './migrations/0005_audit_outbox.js';
import * as m0006 from './migrations/0006_notifications.js';
import * as m0007 from './migrations/0007_phone_changes.js';
import * as m0008 from './migrations/0008_sign_ins_policy.js';
import * as m0009 from './migrations/0009_rate_limits.js';
import * as m0010 from './migrations/0010_sign_in_log_indexes.js';
import * as m0011 from './migrations/0011_audit_user_agent.js';
import * as m0012 from './migrations/0012_email_idn.js';
import type { Database } from './schema.js';

const migrations: Record<string, Migration> = {
  '0001_companies_users': m0001,
  '0002_devices': m0002,
  '0003_challenges': m0003,
  '0004_sessions': m0004,
  '0005_audit_outbox': m0005,
  '0006_notifications': m0006,
  '0007_phone_changes': m0007,
  '0008_sign_ins_policy': m0008,
  '0009_rate_limits': m0009,
  '0010_sign_in_log_indexes': m0010,
  '0011_audit_user_agent': m0011,
  '0012_email_idn': m0012,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableName: 'doorman_migrations', migrationLockTableName: 'doorman_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
