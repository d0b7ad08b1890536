// Which phone numbers may receive codes by SMS: mobile numbers in allowed countries, never premium-rate.
import { parsePhoneNumber } from './phoneNumbers.js';

export type PhoneRefusal = 'invalid_phone' | 'not_mobile' | 'premium_rate' | 'country_not_allowed' | 'unchanged';

export type PhoneCheck = { ok: true; e164: string; callingCode: string } | { ok: false; reason: PhoneRefusal };

const REFUSED_TYPES = new Set(['PREMIUM_RATE', 'SHARED_COST', 'TOLL_FREE', 'VOIP', 'PAGER', 'UAN', 'VOICEMAIL', 'PERSONAL_NUMBER']);

/** Parses an international number and says whether codes may be sent to it. */
export function checkSmsNumber(input: string, allowedCallingCodes: readonly string[]): PhoneCheck {
  const parsed = parsePhoneNumber(input.trim());
  if (!parsed || !parsed.isValid()) return { ok: false, reason: 'invalid_phone' };
  const type = parsed.getType();
  if (type !== undefined && REFUSED_TYPES.has(type)) return { ok: false, reason: type === 'PREMIUM_RATE' ? 'premium_rate' : 'not_mobile' };
  if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return { ok: false, reason: 'not_mobile' };
  if (!allowedCallingCodes.includes(parsed.countryCallingCode)) return { ok: false, reason: 'country_not_allowed' };
  return { ok: true, e164: parsed.number, callingCode: parsed.countryCallingCode };
}

export const PHONE_REFUSAL_MESSAGES: Record<PhoneRefusal, string> = {
  invalid_phone: 'The phone number is not valid. Give it in international form, e.g. +48 601 234 567.',
  not_mobile: 'Codes can only be sent to mobile numbers.',
  premium_rate: 'Premium-rate numbers cannot receive codes.',
  country_not_allowed: 'Codes cannot be sent by SMS to numbers in this country.',
  unchanged: 'This is already the phone number of the account.',
};
