// Names a browser and operating system from a User-Agent string, for e-mails and device lists.
import Bowser from 'bowser';

/** The words around the names, in the reader's language; the names are bowser's own. */
const WORDS = {
  en: { unknown: 'unknown browser', on: (browser: string, os: string) => `${browser} on ${os}` },
  pl: { unknown: 'nieznana przeglądarka', on: (browser: string, os: string) => `${browser} w systemie ${os}` },
} as const;

interface Described {
  browser: string;
  os: string;
}

const described = new Map<string, Described>();
const DESCRIBED_MAX = 1000;

/**
 * "Firefox 128 on Windows"; only names bowser knows are used, never text copied from the header:
 * whatever a client writes there must not reach an e-mail as if Doorman had said it.
 * Cached: parsing is the costliest step of listing a device, and browsers repeat.
 */
export function describeUserAgent(userAgent: string, locale: 'en' | 'pl' = 'en'): string {
  let parts = described.get(userAgent);
  if (parts === undefined) {
    if (described.size >= DESCRIBED_MAX) described.clear();
    parts = parseUserAgent(userAgent);
    described.set(userAgent, parts);
  }
  const words = WORDS[locale] ?? WORDS.en;
  if (!parts.os) return parts.browser || words.unknown;
  return words.on(parts.browser || words.unknown, parts.os);
}

const KNOWN_BROWSERS = new Set<string>(Object.values(Bowser.BROWSER_MAP));
const KNOWN_SYSTEMS = new Set<string>(Object.values(Bowser.OS_MAP));
/** Version numbers and release names as bowser reports them: digits, dots, letters, spaces. */
const VERSION = /^[0-9A-Za-z. ]{1,20}$/;

/**
 * Versions browsers no longer change, whatever the system runs: every Mac reports 10.15.7, every
 * Windows from 10 on "NT 10.0", Chrome on every Android from 10 on "10". Named, they would be
 * wrong ("Safari 17 on macOS Catalina", "Windows 10" on Windows 11): the system alone is said.
 */
function isFrozen(system: string | undefined, version: string | undefined): boolean {
  if (version === undefined) return false;
  if (system === 'macOS') return version.startsWith('10.15');
  if (system === 'Windows') return version === 'NT 10.0';
  if (system === 'Android') return version === '10';
  return false;
}

function parseUserAgent(userAgent: string): Described {
  if (!userAgent) return { browser: '', os: '' };
  const parsed = Bowser.parse(userAgent);
  const name = parsed.browser.name && KNOWN_BROWSERS.has(parsed.browser.name) ? parsed.browser.name : undefined;
  const major = parsed.browser.version?.split('.')[0];
  const browser = name ? [name, major && VERSION.test(major) ? major : undefined].filter(Boolean).join(' ') : '';
  const system = parsed.os.name && KNOWN_SYSTEMS.has(parsed.os.name) ? parsed.os.name : undefined;
  const release = isFrozen(parsed.os.name, parsed.os.version) ? undefined : (parsed.os.versionName ?? parsed.os.version);
  const os = system ? [system, release && VERSION.test(release) ? release : undefined].filter(Boolean).join(' ') : '';
  return { browser, os };
}
