// libphonenumber's full metadata (several MB in memory) loads on the first phone number handled,
// not at start-up: an instance whose accounts have no phones never pays for it.
import { createRequire } from 'node:module';
import type { PhoneNumber } from 'libphonenumber-js/max';

type Parse = (text: string) => PhoneNumber | undefined;

let parse: Parse | undefined;

export function parsePhoneNumber(text: string): PhoneNumber | undefined {
  parse ??= (createRequire(import.meta.url)('libphonenumber-js/max') as { parsePhoneNumberFromString: Parse }).parsePhoneNumberFromString;
  return parse(text);
}
