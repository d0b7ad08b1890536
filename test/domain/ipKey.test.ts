// Rate limits count an IPv6 client by its /64 network, since it can pick any address in it.
import { describe, expect, it } from 'vitest';
import { ipLimitKey } from '../../src/domain/ipKey.js';

describe('ipLimitKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:198.51.100.9', '198.51.100.9'],
    ['::ffff:c633:6409', '198.51.100.9'],
    ['64:ff9b::192.0.2.33', '192.0.2.33'],
    ['::ffff:0:192.0.2.34', '192.0.2.34'],
    ['64:ff9b:1::1', '64:ff9b:1:0::/64'],
  ])('%s is limited as %s', (ip, key) => {
    expect(ipLimitKey(ip)).toBe(key);
  });

  it('every address of one /64 shares a key; the next /64 does not', () => {
    const keys = new Set(Array.from({ length: 50 }, (_, i) => ipLimitKey(`2001:db8:aa:bb:${i.toString(16)}:1:2:3`)));
    expect(keys.size).toBe(1);
    expect(ipLimitKey('2001:db8:aa:bc::1')).not.toBe([...keys][0]);
  });
});
