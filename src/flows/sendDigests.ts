// The representatives' daily digest: one e-mail per representative listing the new-device sign-ins since the last one.
import { isVerifiedRepresentative } from './accountSettings.js';
import type { FlowContext } from './context.js';

export const SIGN_IN_DIGEST_TEMPLATE = 'sign-in-digest';

/** Safe to run from several instances at once: entries are taken atomically, so each is sent once. */
export async function sendDailyDigests(ctx: FlowContext): Promise<number> {
  const now = ctx.clock.now();
  const sent = await ctx.store.transaction(async (tx) => {
    const batches = await tx.takePendingDigestEntries(now);
    let count = 0;
    for (const batch of batches) {
      const rep = await tx.findUserById(batch.recipientId);
      if (!rep || !isVerifiedRepresentative(rep)) continue;
      // Someone who left the company or lost the role since an entry was queued does not get it.
      const entries = batch.entries.filter((entry) => entry.companyId === rep.companyId);
      if (entries.length === 0) continue;
      await tx.enqueueMessage(
        {
          channel: 'email',
          template: SIGN_IN_DIGEST_TEMPLATE,
          recipient: rep.email,
          locale: rep.locale,
          payload: { name: rep.displayName, timeZone: rep.timeZone, count: entries.length, entries: JSON.stringify(entries) },
        },
        now,
      );
      count += 1;
    }
    return count;
  });
  if (sent > 0) ctx.messagesQueued();
  return sent;
}

/** Milliseconds from `now` until the next `hourUtc`:00 UTC. */
export function msUntilNextDigest(now: number, hourUtc: number): number {
  const next = new Date(now);
  next.setUTCHours(hourUtc, 0, 0, 0);
  if (next.getTime() <= now) next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime() - now;
}
