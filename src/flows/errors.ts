// One error type for every refusal a client may see: HTTP status, machine code, public message.

export class DoormanError extends Error {
  override name = 'DoormanError';
  readonly expose: boolean;

  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.expose = statusCode < 500;
  }
}

const make =
  (statusCode: number, code: string, message: string) =>
  (extra: Record<string, unknown> = {}) =>
    new DoormanError(statusCode, code, message, extra);

export const invalidRequest = (message: string, extra: Record<string, unknown> = {}) =>
  new DoormanError(400, 'invalid_request', message, extra);
export const invalidCredentials = make(401, 'invalid_credentials', 'Invalid email or password.');
export const unauthenticated = make(401, 'unauthenticated', 'Sign in first.');
export const forbidden = make(403, 'forbidden', 'You are not allowed to do this.');
export const noChallenge = make(404, 'no_challenge', 'There is no open verification for this browser. Sign in again.');
export const notFound = make(404, 'not_found', 'Not found.');
export const channelUnavailable = make(409, 'channel_unavailable', 'This channel is not available for your account.');
export const emailTaken = make(409, 'email_taken', 'An account with this email already exists.');
export const challengeExpired = make(410, 'challenge_expired', 'The verification code has expired. Sign in again to get a new one.');
export const invalidCode = make(400, 'invalid_code', 'The code is not correct.');
export const tooManyAttempts = make(423, 'too_many_attempts', 'Too many wrong codes. Wait until the code expires, then sign in again.');
export const verificationLocked = make(423, 'verification_locked', 'Verification is locked for this account after too many wrong codes. Try again later.');
/** The account's verification lock, with how long it still lasts (the answer's Retry-After). */
export const verificationLockedUntil = (until: number | null, now: number) =>
  verificationLocked(until !== null && until > now ? { retryAfter: Math.ceil((until - now) / 1000) } : {});
/** The same, after a concurrent request has just locked the account: its lock time is read back. */
export const lockedMeanwhile = async (store: { findUserById(id: string): Promise<{ verificationLockedUntil: number | null } | undefined> }, userId: string, now: number) =>
  verificationLockedUntil((await store.findUserById(userId))?.verificationLockedUntil ?? null, now);
export const resendTooSoon = make(429, 'resend_too_soon', 'Please wait before sending another code on this channel.');
export const sendLimitReached = make(429, 'send_limit_reached', 'Too many codes were sent. Try again later.');
/** A spent sending budget, named in snake_case like every API code: `smsPerAccountHour` → `sms_per_account_hour`. */
export const sendLimitRefusal = (limit: string, retryAfter: number) =>
  limit === 'confirmationResend' ? resendTooSoon({ retryAfter }) : sendLimitReached({ reason: limit.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), retryAfter });
export const rateLimited = make(429, 'rate_limited', 'Too many requests. Try again later.');
export const passwordChangeRequired = make(400, 'password_change_required', 'Choose a new password to finish signing in.');
export const passwordReused = make(400, 'password_reused', 'Choose a password different from the old one.');
export const companyNotFound = make(404, 'company_not_found', 'No such company.');
export const userNotFound = make(404, 'user_not_found', 'No such user.');
