// E-mail subject lines per template and locale.
import type { Locale } from '../flows/ports.js';

export const SUBJECTS: Record<string, Record<Locale, string>> = {
  'verification-code': { en: 'Your sign-in verification code', pl: 'Twój kod weryfikacyjny logowania' },
  'new-device-sign-in': { en: 'New sign-in to your account', pl: 'Nowe logowanie na Twoje konto' },
  'new-device-sign-in-company': { en: 'An employee signed in from a new browser', pl: 'Pracownik zalogował się z nowej przeglądarki' },
  'sign-in-reported-company': { en: "An employee reported a sign-in that wasn't them", pl: 'Pracownik zgłosił cudze logowanie na swoje konto' },
  'sign-in-digest': { en: 'Daily digest: new-device sign-ins in your company', pl: 'Dzienne podsumowanie: logowania z nowych urządzeń w firmie' },
  'confirmation-code': { en: 'Your code to switch off account authorization', pl: 'Kod do wyłączenia autoryzacji konta' },
  'authorization-disabled': { en: 'Account authorization was switched off', pl: 'Autoryzacja konta została wyłączona' },
  'phone-changed': { en: 'The phone number on your account changed', pl: 'Numer telefonu na Twoim koncie został zmieniony' },
  'password-changed': { en: 'Your password was changed', pl: 'Twoje hasło zostało zmienione' },
  'verification-locked': {
    en: 'Someone who knows your password is trying to sign in',
    pl: 'Ktoś, kto zna Twoje hasło, próbuje się zalogować',
  },
};

export const FOOTER: Record<Locale, string> = {
  en: 'This message was sent by the sign-in service of your platform. Do not reply to it.',
  pl: 'Tę wiadomość wysłała usługa logowania platformy. Nie odpowiadaj na nią.',
};
