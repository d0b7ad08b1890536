// Codes: digits only, derived from the challenge id (never stored), stable for the challenge, forgiving input.
import { describe, expect, it } from 'vitest';
import { codeMatches, deriveCode, isWellFormedCode, normalizeCodeInput } from '../../src/domain/code.js';

const SECRET = 'unit-test-secret-unit-test-secret';

describe('deriveCode', () => {
  it.each([6, 7, 8, 9, 10])('gives %i digits, leading zeros kept', (length) => {
    for (let i = 0; i < 200; i++) {
      const code = deriveCode(SECRET, `challenge-${i}`, length);
      expect(code, `challenge-${i}`).toMatch(new RegExp(`^\\d{${length}}$`));
    }
  });

  it('is the same for the same challenge every time (re-send, reload, re-login)', () => {
    const first = deriveCode(SECRET, 'challenge-a', 6);
    for (let i = 0; i < 10; i++) expect(deriveCode(SECRET, 'challenge-a', 6)).toBe(first);
  });

  it('differs between challenges and between secrets', () => {
    const codes = new Set(Array.from({ length: 500 }, (_, i) => deriveCode(SECRET, `c${i}`, 6)));
    expect(codes.size).toBeGreaterThan(490);
    expect(deriveCode(SECRET, 'c1', 8)).not.toBe(deriveCode(`${SECRET}x`, 'c1', 8));
  });

  it('produces leading zeros for some challenges', () => {
    const withZero = Array.from({ length: 2000 }, (_, i) => deriveCode(SECRET, `z${i}`, 6)).filter((c) => c.startsWith('0'));
    expect(withZero.length).toBeGreaterThan(100);
  });
});

describe('code input', () => {
  it.each([
    ['123 456', '123456'],
    ['123-456', '123456'],
    [' 12 34 56 ', '123456'],
    ['１２３４５６', '123456'],
    ['123–456', '123456'],
  ])('normalizes %j to %s', (input, expected) => {
    expect(normalizeCodeInput(input)).toBe(expected);
  });

  it.each(['12345', '1234567', '12a456', '', '12345６x'])('rejects %j as malformed for 6 digits', (input) => {
    expect(isWellFormedCode(normalizeCodeInput(input), 6)).toBe(false);
  });

  it('compares codes exactly', () => {
    expect(codeMatches('012345', '012345')).toBe(true);
    expect(codeMatches('012345', '12345')).toBe(false);
    expect(codeMatches('012346', '012345')).toBe(false);
  });
});
