// Opaque random tokens for cookies and links: 256 bits from the CSPRNG, stored only as SHA-256.
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_BYTES = 32;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashToken(token: string): string {
  // The one-shot form: every session check hashes its cookie, and a Hash object costs more than the digest.
  return hash('sha256', token, 'base64url');
}

/** A cookie value that could be one of our tokens; anything else is treated as absent. */
export function isTokenShaped(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

export function secretsEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

/** Random identifiers that are not secrets (rows, challenges). 128 bits. */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}
