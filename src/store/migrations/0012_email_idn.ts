// Addresses with an internationalized domain are kept unique in the domain's ASCII (punycode) form.
import { sql, type Kysely } from 'kysely';
import { normalizeEmail } from '../kysely-store.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Only addresses with a character beyond ASCII can change: their length in characters and in bytes differ.
  const { rows } = await sql<{ id: string; normalized: string }>`
    select id, email_normalized as normalized from users where length(email_normalized) <> octet_length(email_normalized)`.execute(db);
  for (const row of rows) {
    const next = normalizeEmail(row.normalized);
    if (next === row.normalized) continue;
    // Two accounts already held the two forms of one mailbox: the one in ASCII form keeps the address.
    const { rows: taken } = await sql<{ id: string }>`select id from users where email_normalized = ${next}`.execute(db);
    if (taken.length === 0) await sql`update users set email_normalized = ${next} where id = ${row.id}`.execute(db);
  }
}

export async function down(): Promise<void> {
  // Nothing to undo. An older version looks such an address up in its Unicode form, so an account
  // with an internationalized domain signs in only through this version or a later one.
}
