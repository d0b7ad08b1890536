// Account lock after wrong codes, trust lifetime and de-authorization, session lifetimes — all with an injected clock.
import { describe, expect, it } from 'vitest';
import { isDeviceTrusted, needsVerification, trustLifetimeDays, trustedUntil, verificationRequiredSince } from '../../src/domain/devices.js';
import { failureWindowStart, isVerificationLocked, lockUntil, shouldLockAccount } from '../../src/domain/lockout.js';
import { maskEmail, maskPhone } from '../../src/domain/mask.js';
import { isSessionActive, sessionExpiresAt, shouldTouchSession } from '../../src/domain/sessions.js';
import { DAY, HOUR, MINUTE, policy } from './policy.fixture.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

describe('per-account lock', () => {
  it('locks at 10 wrong codes in the window, not before', () => {
    expect(shouldLockAccount(9, policy)).toBe(false);
    expect(shouldLockAccount(10, policy)).toBe(true);
  });
  it('counts the last hour', () => expect(failureWindowStart(T0, policy)).toBe(T0 - HOUR));
  it('lasts an hour', () => {
    const until = lockUntil(T0, policy);
    expect(isVerificationLocked(until, T0 + HOUR - 1)).toBe(true);
    expect(isVerificationLocked(until, T0 + HOUR)).toBe(false);
    expect(isVerificationLocked(null, T0)).toBe(false);
  });
});

describe('trusted devices', () => {
  const trustedAt = T0;
  const link = { trustedAt, trustedUntil: trustedUntil(T0, 30), revokedAt: null };

  it('trust lasts 30 days by default', () => {
    expect(isDeviceTrusted(link, T0 - DAY, T0 + 30 * DAY - 1)).toBe(true);
    expect(isDeviceTrusted(link, T0 - DAY, T0 + 30 * DAY)).toBe(false);
  });
  it('company policy may shorten trust, never lengthen it', () => {
    expect(trustLifetimeDays(30, 7)).toBe(7);
    expect(trustLifetimeDays(30, 90)).toBe(30);
    expect(trustLifetimeDays(30, null)).toBe(30);
  });
  it('switching verification on after trust was given de-authorizes the device', () => {
    expect(isDeviceTrusted(link, T0 + MINUTE, T0 + 2 * MINUTE)).toBe(false);
  });
  it('revoked trust no longer counts', () => {
    expect(isDeviceTrusted({ ...link, revokedAt: T0 + MINUTE }, T0 - DAY, T0 + 2 * MINUTE)).toBe(false);
  });
  it('a device never trusted needs verification; without verification on nothing does', () => {
    expect(needsVerification(T0, undefined, T0 + 1)).toBe(true);
    expect(needsVerification(null, undefined, T0 + 1)).toBe(false);
    expect(needsVerification(T0 - DAY, link, T0 + 1)).toBe(false);
  });
  it('verification is required from the earliest switch-on, by user or company', () => {
    expect(verificationRequiredSince(5, 3)).toBe(3);
    expect(verificationRequiredSince(null, 3)).toBe(3);
    expect(verificationRequiredSince(5, null)).toBe(5);
    expect(verificationRequiredSince(null, null)).toBe(null);
  });
});

describe('sessions', () => {
  const session = { createdAt: T0, lastSeenAt: T0, revokedAt: null };
  it('end after 2 h idle', () => {
    expect(isSessionActive(session, T0 + 2 * HOUR - 1, policy)).toBe(true);
    expect(isSessionActive(session, T0 + 2 * HOUR, policy)).toBe(false);
  });
  it('end 12 h after sign-in however active', () => {
    const busy = { ...session, lastSeenAt: T0 + 11.5 * HOUR };
    expect(sessionExpiresAt(busy, policy)).toBe(T0 + 12 * HOUR);
    expect(isSessionActive(busy, T0 + 12 * HOUR, policy)).toBe(false);
  });
  it('end when revoked', () => expect(isSessionActive({ ...session, revokedAt: T0 }, T0 + 1, policy)).toBe(false));
  it('record activity at most once a minute', () => {
    expect(shouldTouchSession(session, T0 + 59_999)).toBe(false);
    expect(shouldTouchSession(session, T0 + MINUTE)).toBe(true);
  });
});

describe('masking', () => {
  it('masks e-mail addresses', () => expect(maskEmail('jan.kowalski@acme.example')).toBe('j***@acme.example'));
  it('masks phone numbers', () => expect(maskPhone('+48601234789')).toBe('+48 *** *** 789'));
});
