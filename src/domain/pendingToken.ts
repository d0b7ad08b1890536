// The pending-login token of a challenge: an HMAC of the challenge id under the server secret, so every
// sign-in from the browser while the challenge lives hands out the same cookie (the database keeps its SHA-256).
import { createHmac } from 'node:crypto';

const PENDING_CONTEXT = 'doorman/pending-login/v1\0';

/** 256 bits, base64url: the same shape as every other token. */
export function pendingTokenFor(secret: string, challengeId: string): string {
  return createHmac('sha256', secret).update(PENDING_CONTEXT).update(challengeId).digest('base64url');
}
