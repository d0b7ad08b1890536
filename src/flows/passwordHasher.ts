// Argon2id password hashing with the OWASP parameters, and a dummy hash so unknown e-mails cost the same time.
import argon2 from 'argon2';
import { ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST } from '../config.js';
import type { PasswordHasher } from './ports.js';

const OPTIONS = {
  type: argon2.argon2id,
  memoryCost: ARGON2_MEMORY_KIB,
  timeCost: ARGON2_TIME_COST,
  parallelism: ARGON2_PARALLELISM,
} as const;

/**
 * Passwords are hashed in Unicode NFKC form (NIST 800-63B 5.1.1.2): the same password typed on
 * systems that compose characters differently (macOS decomposes "ż", for one) is the same password.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export async function createPasswordHasher(): Promise<PasswordHasher> {
  const dummyHash = await argon2.hash('doorman-dummy-password-for-timing', OPTIONS);
  return {
    hash: (password) => argon2.hash(normalizePassword(password), OPTIONS),
    async verify(hash, password) {
      try {
        const normalized = normalizePassword(password);
        let ok = await argon2.verify(hash ?? dummyHash, normalized);
        // A hash made from the password as typed, before passwords were normalized, still matches
        // it. The second check depends only on the input, so unknown accounts take it too.
        if (!ok && normalized !== password) ok = await argon2.verify(hash ?? dummyHash, password);
        return ok && hash !== undefined;
      } catch {
        return false;
      }
    },
    needsRehash: (hash) => argon2.needsRehash(hash, OPTIONS),
  };
}
