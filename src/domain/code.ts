// One-time verification codes: derived from the challenge id under the server secret, so no code is ever stored.
import { createHmac, timingSafeEqual } from 'node:crypto';

const CODE_CONTEXT = 'doorman/verification-code/v1\0';

/**
 * HMAC-SHA256(secret, context ‖ challengeId) reduced to `length` decimal digits. 64 bits of the
 * MAC modulo 10^length leaves a bias below 10^-9, far under one guess's worth.
 */
export function deriveCode(secret: string, challengeId: string, length: number): string {
  const mac = createHmac('sha256', secret).update(CODE_CONTEXT).update(challengeId).digest();
  const value = mac.readBigUInt64BE(0) % 10n ** BigInt(length);
  return value.toString().padStart(length, '0');
}

/** Spaces, dashes and similar separators from a pasted code are ignored; anything else is kept so it fails. */
export function normalizeCodeInput(input: string): string {
  return input.normalize('NFKC').replace(/[\s\-‐-―−_.]/g, '');
}

export function isWellFormedCode(input: string, length: number): boolean {
  return input.length === length && /^\d+$/.test(input);
}

/** Constant-time comparison of an entered code with the expected one. */
export function codeMatches(entered: string, expected: string): boolean {
  const a = Buffer.from(entered);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
