// Challenge rules with an injected clock: lifetime, per-channel cooldown with retryAfter, attempt cap, first channel.
import { describe, expect, it } from 'vitest';
import { attemptsLeft, challengeExpiresAt, challengeStatus, decideSend, firstChannel, pendingCookieLifetimeMs } from '../../src/domain/challenge.js';
import { MINUTE, policy } from './policy.fixture.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const open = (over: Partial<{ attempts: number; consumedAt: number | null }> = {}) => ({
  expiresAt: challengeExpiresAt(T0, policy),
  attempts: 0,
  consumedAt: null,
  ...over,
});

describe('challenge lifetime', () => {
  it('lives 15 minutes from opening by default', () => {
    expect(challengeExpiresAt(T0, policy) - T0).toBe(15 * MINUTE);
  });

  it('is open for the whole TTL and expired at its end', () => {
    expect(challengeStatus(open(), T0, policy)).toBe('open');
    expect(challengeStatus(open(), T0 + 15 * MINUTE - 1, policy)).toBe('open');
    expect(challengeStatus(open(), T0 + 15 * MINUTE, policy)).toBe('expired');
  });

  it('honours a stricter 10-minute TTL', () => {
    const strict = { ...policy, codeTtlMs: 10 * MINUTE };
    expect(challengeStatus({ ...open(), expiresAt: challengeExpiresAt(T0, strict) }, T0 + 10 * MINUTE, strict)).toBe('expired');
  });

  it('the pending cookie outlives the code', () => {
    expect(pendingCookieLifetimeMs(policy)).toBeGreaterThan(policy.codeTtlMs);
  });
});

describe('attempt cap', () => {
  it.each([
    [0, 'open', 5],
    [4, 'open', 1],
    [5, 'locked', 0],
    [9, 'locked', 0],
  ] as const)('after %i wrong codes the challenge is %s with %i attempts left', (attempts, status, left) => {
    expect(challengeStatus(open({ attempts }), T0, policy)).toBe(status);
    expect(attemptsLeft(open({ attempts }), policy)).toBe(left);
  });

  it('a used challenge is consumed, whatever the clock says', () => {
    expect(challengeStatus(open({ consumedAt: T0 }), T0 + 1, policy)).toBe('consumed');
  });
});

describe('re-send cooldown', () => {
  it('the first send on a channel is allowed at once', () => {
    expect(decideSend(null, T0, policy)).toEqual({ allowed: true });
  });

  it.each([
    [1_000, 59],
    [30_000, 30],
    [59_001, 1],
  ])('re-sending %i ms after the last send is refused with retryAfter %i s', (elapsed, retryAfter) => {
    expect(decideSend(T0, T0 + elapsed, policy)).toEqual({ allowed: false, retryAfterSeconds: retryAfter });
  });

  it('re-sending 60 s after the last send is allowed', () => {
    expect(decideSend(T0, T0 + MINUTE, policy)).toEqual({ allowed: true });
  });
});

describe('first channel', () => {
  it('is e-mail by default', () => expect(firstChannel(null, new Set(['email', 'sms']))).toBe('email'));
  it('is the channel last verified with', () => expect(firstChannel('sms', new Set(['email', 'sms']))).toBe('sms'));
  it('falls back to e-mail when that channel is gone', () => expect(firstChannel('sms', new Set(['email']))).toBe('email'));
});
