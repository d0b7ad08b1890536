// Browser names in e-mails and device lists come from bowser's own list, never from text a client wrote.
import { describe, expect, it } from 'vitest';
import { describeUserAgent } from '../../src/domain/userAgent.js';

describe('describeUserAgent', () => {
  it.each([
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome 126 on Linux'],
    // Frozen versions (every Windows from 10 on says NT 10.0, every Mac 10.15.7, Chrome on every Android from 10 on "10"): the system alone.
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128 on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari 17 on macOS'],
    ['Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome 126 on Android'],
    // Versions that still tell the truth are named.
    ['Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36', 'Chrome 109 on Windows 7'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1 Safari/605.1.15', 'Safari 14 on macOS Mojave'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari 17 on iOS 17.5'],
  ])('names a real browser: %s', (userAgent, expected) => {
    expect(describeUserAgent(userAgent)).toBe(expected);
  });

  it.each([
    'Visit https://evil.example/reset to secure your account. Call +48 600 000 000/1.0',
    'Your account is locked/2.0 (call support)',
    'x'.repeat(5000),
    '',
  ])('an unrecognised User-Agent is "unknown browser", not its text: %s', (userAgent) => {
    expect(describeUserAgent(userAgent)).toBe('unknown browser');
  });

  it('says the words around the names in Polish for a Polish reader', () => {
    expect(describeUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'pl')).toBe('Firefox 128 w systemie Windows');
    expect(describeUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'en')).toBe('Firefox 128 on Windows');
    expect(describeUserAgent('Your account is locked/2.0 (call support)', 'pl')).toBe('nieznana przeglądarka');
  });
});
