// Names a browser and operating system from a User-Agent string, for e-mails and device lists.
import Bowser from 'bowser';

/**
 * "Firefox 128 on Windows 10"; only names bowser knows are used, never text copied from the header:
 * whatever a client writes there must not reach an e-mail as if Doorman had said it.
 */
const described = new Map<string, string>();
const DESCRIBED_MAX = 1000;

/** Cached: parsing is the costliest step of listing a device, and browsers repeat. */
export function describeUserAgent(userAgent: string): string {
  let text = described.get(userAgent);
  if (text === undefined) {
    if (described.size >= DESCRIBED_MAX) described.clear();
    text = parseUserAgent(userAgent);
    described.set(userAgent, text);
  }
  return text;
}

const KNOWN_BROWSERS = new Set<string>(Object.values(Bowser.BROWSER_MAP));
const KNOWN_SYSTEMS = new Set<string>(Object.values(Bowser.OS_MAP));
/** Version numbers and release names as bowser reports them: digits, dots, letters, spaces. */
const VERSION = /^[0-9A-Za-z. ]{1,20}$/;

function parseUserAgent(userAgent: string): string {
  if (!userAgent) return 'unknown browser';
  const parsed = Bowser.parse(userAgent);
  const name = parsed.browser.name && KNOWN_BROWSERS.has(parsed.browser.name) ? parsed.browser.name : undefined;
  const major = parsed.browser.version?.split('.')[0];
  const browser = name ? [name, major && VERSION.test(major) ? major : undefined].filter(Boolean).join(' ') : '';
  const system = parsed.os.name && KNOWN_SYSTEMS.has(parsed.os.name) ? parsed.os.name : undefined;
  const release = parsed.os.versionName ?? parsed.os.version;
  const os = system ? [system, release && VERSION.test(release) ? release : undefined].filter(Boolean).join(' ') : '';
  if (!browser && !os) return 'unknown browser';
  return os ? `${browser || 'unknown browser'} on ${os}` : browser;
}
