// The public shape of a challenge: where the code went (masked), when, and when it may be re-sent.
import { attemptsLeft, resendAvailableAt } from '../domain/challenge.js';
import { maskEmail, maskPhone } from '../domain/mask.js';
import type { Channel, VerificationPolicy } from '../domain/policy.js';
import { checkSmsNumber } from '../domain/phone.js';
import type { SmsSettings } from './context.js';
import type { ChallengeRecord, UserRecord } from './ports.js';

export interface ChannelView {
  channel: Channel;
  available: boolean;
  destination?: string;
  lastSentAt?: string;
  resendAvailableAt?: string;
  reason?: string;
}

export interface ChallengeView {
  expiresAt: string;
  codeLength: number;
  attemptsLeft: number;
  channels: ChannelView[];
  /** Present when the account must choose a new password together with the code. */
  passwordChangeRequired?: true;
}

const iso = (ms: number) => new Date(ms).toISOString();

function channelView(channel: Channel, available: boolean, destination: string | null, sentAt: number | null, policy: VerificationPolicy, reason?: string): ChannelView {
  const view: ChannelView = { channel, available };
  if (available && destination) view.destination = destination;
  if (sentAt !== null) {
    view.lastSentAt = iso(sentAt);
    view.resendAvailableAt = iso(resendAvailableAt(sentAt, policy) ?? sentAt);
  }
  if (reason) view.reason = reason;
  return view;
}

/** Why SMS is not offered to this account, or undefined when it is. */
export function smsUnavailableReason(user: Pick<UserRecord, 'phone'>, sms: SmsSettings): string | undefined {
  if (!user.phone) return 'no_phone_number';
  if (!sms.enabled) return 'sms_not_available';
  const check = checkSmsNumber(user.phone, sms.countries);
  return check.ok ? undefined : check.reason;
}

export function availableChannels(user: Pick<UserRecord, 'phone'>, sms: SmsSettings): Set<Channel> {
  return new Set<Channel>(smsUnavailableReason(user, sms) === undefined ? ['email', 'sms'] : ['email']);
}

export function encodeChallengeView(challenge: ChallengeRecord, user: UserRecord, policy: VerificationPolicy, sms: SmsSettings): ChallengeView {
  const smsReason = smsUnavailableReason(user, sms);
  return {
    ...(user.passwordChangeRequired ? { passwordChangeRequired: true as const } : {}),
    expiresAt: iso(challenge.expiresAt),
    codeLength: policy.codeLength,
    attemptsLeft: attemptsLeft(challenge, policy),
    channels: [
      channelView('email', true, maskEmail(user.email), challenge.emailSentAt, policy),
      smsReason === undefined && user.phone
        ? channelView('sms', true, maskPhone(user.phone), challenge.smsSentAt, policy)
        : channelView('sms', false, null, challenge.smsSentAt, policy, smsReason),
    ],
  };
}
