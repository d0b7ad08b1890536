// Page texts in English and Polish, and the choice of language: ?lang=, then the saved choice, the account's locale, Accept-Language.
import type { FastifyRequest } from 'fastify';
import type { Locale } from '../flows/ports.js';

const en = {
  'login.title': 'Log in',
  'login.email': 'Email',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.missing': 'Enter your email and password.',
  'verify.title': 'Verify this browser',
  'verify.intro': 'This browser has not been used with your account before. Enter the code we sent you.',
  'verify.sentTo': 'Code sent by {channel} to {destination} at {time} UTC.',
  'verify.notAvailable': '{channel}: not available',
  'verify.code': 'Verification code',
  'verify.trust': 'Trust this device',
  'verify.trustHint': 'A trusted device is not asked for a code for {days} days. Leave it unticked on a shared computer.',
  'verify.newPassword': 'New password',
  'verify.newPasswordHint': 'A sign-in to your account was reported as not yours. Choose a new password (at least 10 characters) to continue.',
  'verify.submit': 'Verify',
  'verify.validUntil': 'The code is valid until {time} UTC.',
  'verify.attemptsLeft': '{count} attempts left.',
  'verify.sendEmail': 'Send code by e-mail',
  'verify.sendSms': 'Send code by SMS',
  'verify.smsHint': 'Add a mobile phone number on your account page to get codes by SMS.',
  'verify.wait': 'You can send again in {seconds} s.',
  'verify.locked': 'Too many wrong codes. Wait until the code expires at {time} UTC, then log in again.',
  'verify.otherAccount': 'Use another account',
  'verify.sent': 'A code was sent by {channel}.',
  'verify.wrongCode': 'The code is not correct. {count} attempts left.',
  'verify.enterCode': 'Enter the code.',
  'verify.resendWait': 'Please wait {seconds} s before sending another code this way.',
  'verify.expiredTitle': 'The code has expired',
  'verify.expiredText': 'Log in again to get a new code.',
  'channel.email': 'e-mail',
  'channel.sms': 'SMS',
  'account.title': 'Your account',
  'account.name': 'Name',
  'account.email': 'Email',
  'account.company': 'Company',
  'account.authorization': 'Account authorization',
  'account.authorizationOn': 'On: new browsers need a code',
  'account.authorizationOff': 'Off',
  'account.phone': 'Phone number',
  'account.none': 'none',
  'account.thisBrowser': 'This browser',
  'account.trustedUntil': 'Trusted until {time} UTC',
  'account.sessionOnly': 'Authorized for this session only',
  'account.signedIn': 'Signed in',
  'account.signedInAt': '{time} UTC from {ip}',
  'account.notifications': 'Notifications about employees’ new-device sign-ins',
  'account.immediate': 'Immediately, one e-mail per sign-in',
  'account.digest': 'One daily digest',
  'account.save': 'Save',
  'account.saved': 'Saved.',
  'account.signOut': 'Sign out',
  'account.phoneTitle': 'Phone number for sign-in codes',
  'account.newPhone': 'Mobile phone number',
  'account.currentPassword': 'Your password',
  'account.sendPhoneCode': 'Send a code to this number',
  'account.phoneCode': 'Code from the SMS',
  'account.confirmPhone': 'Confirm the number',
  'account.removePhone': 'Remove the phone number',
  'account.phonePending': 'We sent a code to {destination}. Enter it to confirm the number.',
  'account.phoneSaved': 'The phone number was saved.',
  'account.phoneRemoved': 'The phone number was removed.',
  'report.title': 'Was this sign-in not you?',
  'report.text': 'Someone signed in to {email} at {time} UTC from IP address {ip} ({browser}).',
  'report.consequences': 'Confirming signs that browser out, removes its access, and asks for a new password at your next sign-in. Your company’s authorized representatives will be told.',
  'report.confirm': 'This wasn’t me',
  'report.doneTitle': 'Thank you, the browser is locked out',
  'report.doneText': 'That browser was signed out and lost its access. At your next sign-in you will get a code and choose a new password.',
  'report.invalidTitle': 'This link cannot be used',
  'mailbox.title': 'Dev mailbox',
  'mailbox.hint': 'Every e-mail and SMS this Doorman would have sent, newest first. Shown only while no mail or SMS transport is configured, outside production.',
  'mailbox.empty': 'Nothing sent yet.',
  'common.login': 'Log in',
} as const;

export type MessageKey = keyof typeof en;

const pl: Record<MessageKey, string> = {
  'login.title': 'Logowanie',
  'login.email': 'E-mail',
  'login.password': 'Hasło',
  'login.submit': 'Zaloguj się',
  'login.missing': 'Podaj e-mail i hasło.',
  'verify.title': 'Weryfikacja przeglądarki',
  'verify.intro': 'Ta przeglądarka nie była wcześniej używana z Twoim kontem. Wpisz kod, który wysłaliśmy.',
  'verify.sentTo': 'Kod wysłany ({channel}) na {destination} o {time} UTC.',
  'verify.notAvailable': '{channel}: niedostępny',
  'verify.code': 'Kod weryfikacyjny',
  'verify.trust': 'Zaufaj temu urządzeniu',
  'verify.trustHint': 'Zaufane urządzenie nie będzie pytane o kod przez {days} dni. Nie zaznaczaj na wspólnym komputerze.',
  'verify.newPassword': 'Nowe hasło',
  'verify.newPasswordHint': 'Zgłoszono, że logowanie na Twoje konto nie było Twoje. Ustaw nowe hasło (co najmniej 10 znaków), aby kontynuować.',
  'verify.submit': 'Zweryfikuj',
  'verify.validUntil': 'Kod jest ważny do {time} UTC.',
  'verify.attemptsLeft': 'Pozostało prób: {count}.',
  'verify.sendEmail': 'Wyślij kod e-mailem',
  'verify.sendSms': 'Wyślij kod SMS-em',
  'verify.smsHint': 'Dodaj numer telefonu komórkowego na stronie konta, aby otrzymywać kody SMS-em.',
  'verify.wait': 'Ponowne wysłanie możliwe za {seconds} s.',
  'verify.locked': 'Zbyt wiele błędnych kodów. Poczekaj, aż kod wygaśnie o {time} UTC, i zaloguj się ponownie.',
  'verify.otherAccount': 'Użyj innego konta',
  'verify.sent': 'Kod został wysłany ({channel}).',
  'verify.wrongCode': 'Kod jest nieprawidłowy. Pozostało prób: {count}.',
  'verify.enterCode': 'Wpisz kod.',
  'verify.resendWait': 'Poczekaj {seconds} s przed ponownym wysłaniem kodu tą drogą.',
  'verify.expiredTitle': 'Kod wygasł',
  'verify.expiredText': 'Zaloguj się ponownie, aby otrzymać nowy kod.',
  'channel.email': 'e-mail',
  'channel.sms': 'SMS',
  'account.title': 'Twoje konto',
  'account.name': 'Imię i nazwisko',
  'account.email': 'E-mail',
  'account.company': 'Firma',
  'account.authorization': 'Autoryzacja konta',
  'account.authorizationOn': 'Włączona: nowe przeglądarki wymagają kodu',
  'account.authorizationOff': 'Wyłączona',
  'account.phone': 'Numer telefonu',
  'account.none': 'brak',
  'account.thisBrowser': 'Ta przeglądarka',
  'account.trustedUntil': 'Zaufana do {time} UTC',
  'account.sessionOnly': 'Autoryzowana tylko na tę sesję',
  'account.signedIn': 'Zalogowano',
  'account.signedInAt': '{time} UTC z adresu {ip}',
  'account.notifications': 'Powiadomienia o logowaniach pracowników z nowych urządzeń',
  'account.immediate': 'Od razu, jeden e-mail na logowanie',
  'account.digest': 'Jedno dzienne podsumowanie',
  'account.save': 'Zapisz',
  'account.saved': 'Zapisano.',
  'account.signOut': 'Wyloguj się',
  'account.phoneTitle': 'Numer telefonu do kodów logowania',
  'account.newPhone': 'Numer telefonu komórkowego',
  'account.currentPassword': 'Twoje hasło',
  'account.sendPhoneCode': 'Wyślij kod na ten numer',
  'account.phoneCode': 'Kod z SMS-a',
  'account.confirmPhone': 'Potwierdź numer',
  'account.removePhone': 'Usuń numer telefonu',
  'account.phonePending': 'Wysłaliśmy kod na {destination}. Wpisz go, aby potwierdzić numer.',
  'account.phoneSaved': 'Numer telefonu został zapisany.',
  'account.phoneRemoved': 'Numer telefonu został usunięty.',
  'report.title': 'To logowanie nie było Twoje?',
  'report.text': 'Ktoś zalogował się na {email} o {time} UTC z adresu IP {ip} ({browser}).',
  'report.consequences': 'Potwierdzenie wyloguje tę przeglądarkę, odbierze jej dostęp i poprosi o nowe hasło przy następnym logowaniu. Osoby upoważnione w Twojej firmie zostaną powiadomione.',
  'report.confirm': 'To nie ja',
  'report.doneTitle': 'Dziękujemy, przeglądarka została zablokowana',
  'report.doneText': 'Ta przeglądarka została wylogowana i utraciła dostęp. Przy następnym logowaniu otrzymasz kod i ustawisz nowe hasło.',
  'report.invalidTitle': 'Tego linku nie można użyć',
  'mailbox.title': 'Skrzynka deweloperska',
  'mailbox.hint': 'Wszystkie e-maile i SMS-y, które Doorman by wysłał, od najnowszych. Widoczna tylko bez skonfigurowanej poczty lub SMS, poza produkcją.',
  'mailbox.empty': 'Nic jeszcze nie wysłano.',
  'common.login': 'Zaloguj się',
};

const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, pl };

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(locale: Locale): Translate {
  const dictionary = dictionaries[locale];
  return (key, params = {}) => dictionary[key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export const LANG_COOKIE = 'doorman_lang';

const isLocale = (value: unknown): value is Locale => value === 'en' || value === 'pl';

/** Picks en or pl from an Accept-Language header, by quality. */
export function fromAcceptLanguage(header: string | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranked = header
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { lang: tag.toLowerCase().split('-')[0], q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((entry) => isLocale(entry.lang) && entry.q > 0)
    .sort((a, b) => b.q - a.q);
  return ranked[0]?.lang as Locale | undefined;
}

export function pickLocale(request: FastifyRequest, accountLocale?: Locale): Locale {
  const query = (request.query as Record<string, unknown> | undefined)?.lang;
  if (isLocale(query)) return query;
  const saved = request.cookies[LANG_COOKIE];
  if (isLocale(saved)) return saved;
  if (accountLocale) return accountLocale;
  return fromAcceptLanguage(request.headers['accept-language']) ?? 'en';
}
