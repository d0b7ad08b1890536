import { describe, expect, it } from 'vitest';
import { hashToken, isTokenShaped, newId, newToken } from '../../src/domain/tokens.js';

describe('tokens and ids', () => {
  it('draws distinct 128-bit ids, across many refills of the random pool', () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Every position of the id varies: no fixed or zeroed bytes from the pool (the last character holds 2 bits).
    for (let i = 0; i < 21; i++) expect(new Set(ids.map((id) => id[i])).size).toBeGreaterThan(48);
    expect(new Set(ids.map((id) => id[21])).size).toBe(4);
  });

  it('draws distinct 256-bit tokens that only their shape admits, and stores only their SHA-256', () => {
    const tokens = Array.from({ length: 200 }, () => newToken());
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) expect(isTokenShaped(token)).toBe(true);
    expect(isTokenShaped(newId())).toBe(false);
    expect(hashToken('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});
