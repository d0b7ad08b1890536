// What every flow is given: storage, the clock, the rules' numbers, the server secret and the password hasher.
import type { VerificationPolicy } from '../domain/policy.js';
import type { Clock, PasswordHasher, SendLimits, Store } from './ports.js';

export interface FlowContext {
  store: Store;
  clock: Clock;
  policy: VerificationPolicy;
  secret: string;
  hasher: PasswordHasher;
  /** Host of the public URL, for origin-bound SMS codes and links. */
  publicUrl: URL;
  /** Called after a transaction that queued messages has committed, so delivery starts at once. */
  messagesQueued(): void;
  sendLimits: SendLimits;
  /** Wrong passwords re-entered by a signed-in user, per account (consume first, refund when right). */
  reauthLimit: {
    consume(key: string): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }>;
    refund(key: string): Promise<void>;
  };
  /** Whether SMS can be delivered at all, and to which country calling codes. */
  sms: SmsSettings;
}

export interface SmsSettings {
  enabled: boolean;
  countries: readonly string[];
}

export interface RequestInfo {
  ip: string;
  userAgent: string;
}
