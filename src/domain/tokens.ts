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

const ID_BYTES = 16;
/** Random bytes for ids, drawn 4 KiB at a time: one system call per 256 ids instead of one each. */
let idPool = Buffer.alloc(0);
let idAt = 0;

/** Random identifiers that are not secrets (rows, challenges). 128 bits. */
export function newId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(256 * ID_BYTES);
    idAt = 0;
  }
  idAt += ID_BYTES;
  return idPool.toString('base64url', idAt - ID_BYTES, idAt);
}
