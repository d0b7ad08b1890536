// Masked destinations for the verification page: enough to recognise, not enough to harvest.
import { parsePhoneNumber } from './phoneNumbers.js';

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/** `+48123456789` → `+48 *** *** 789`. */
export function maskPhone(e164: string): string {
  const parsed = parsePhoneNumber(e164);
  const country = parsed ? parsed.countryCallingCode : e164.slice(1, 3);
  return `+${country} *** *** ${e164.slice(-3)}`;
}
