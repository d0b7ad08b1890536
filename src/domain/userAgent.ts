// Names a browser and operating system from a User-Agent string, for e-mails and device lists.
import Bowser from 'bowser';

/** "Firefox 128 on Windows 10", or the raw string cut short when it cannot be parsed. */
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

function parseUserAgent(userAgent: string): string {
  if (!userAgent) return 'unknown browser';
  const parsed = Bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  const os = [parsed.os.name, parsed.os.versionName ?? parsed.os.version].filter(Boolean).join(' ');
  if (!browser && !os) return userAgent.slice(0, 120);
  return os ? `${browser || 'unknown browser'} on ${os}` : browser;
}
