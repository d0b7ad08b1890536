// Addresses with an internationalized domain are kept unique in the domain's ASCII (punycode) form.
import { domainToASCII } from 'node:url';
import { sql, type Kysely } from 'kysely';

/** The normalization of this migration, frozen here: a later change to the live one must not change what it does. */
function asciiDomain(normalized: string): string {
  const at = normalized.lastIndexOf('@');
  const ascii = at < 0 ? '' : domainToASCII(normalized.slice(at + 1));
  return ascii ? `${normalized.slice(0, at)}@${ascii}` : normalized;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  // Only addresses with a character beyond ASCII can change: their length in characters and in bytes differ.
  const { rows } = await sql<{ id: string; normalized: string }>`
    select id, email_normalized as normalized from users where length(email_normalized) <> octet_length(email_normalized)`.execute(db);
  for (const row of rows) {
    const next = asciiDomain(row.normalized);
    if (next === row.normalized) continue;
    const { rows: taken } = await sql<{ id: string }>`select id from users where email_normalized = ${next}`.execute(db);
    if (taken.length === 0) {
      await sql`update users set email_normalized = ${next} where id = ${row.id}`.execute(db);
      continue;
    }
    // Two accounts already held the two forms of one mailbox. The one in ASCII form keeps the address;
    // the other can no longer sign in until an operator gives it another one, so say which.
    process.stderr.write(
      `doorman: migration 0012: accounts ${taken[0]!.id} and ${row.id} name one mailbox (${next}); ${row.id} cannot sign in until its address is changed (PATCH /api/v1/admin/users/${row.id} {"email": …})\n`,
    );
  }
}

export async function down(): Promise<void> {
  // Nothing to undo. An older version looks such an address up in its Unicode form, so an account
  // with an internationalized domain signs in only through this version or a later one.
}
