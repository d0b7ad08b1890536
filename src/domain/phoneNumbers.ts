// libphonenumber's full metadata (several MB in memory) loads on the first phone number handled,
// not at start-up: an instance whose accounts have no phones never pays for it.
import { createRequire } from 'node:module';
import type { PhoneNumber } from 'libphonenumber-js/max';

type Parse = (text: string) => PhoneNumber | undefined;

let parse: Parse | undefined;

/** Digits with the usual separators only: libphonenumber would drop anything else (text, an extension, control characters) unseen. */
const PHONE_TEXT = /^\+?[0-9 ().-]{1,32}$/;

/** A number written with digits and the usual separators only; anything else is no number. */
export function parsePhoneNumber(text: string): PhoneNumber | undefined {
  if (!PHONE_TEXT.test(text)) return undefined;
  parse ??= (createRequire(import.meta.url)('libphonenumber-js/max') as { parsePhoneNumberFromString: Parse }).parsePhoneNumberFromString;
  return parse(text);
}
