// The key a client address is rate-limited under.
import { isIPv4, isIPv6 } from 'node:net';

/**
 * An IPv4 address is its own key. An IPv6 address counts as its /64 network: one home line or one
 * server gets a whole /64 and can pick a fresh address in it for every request, so limits per
 * single IPv6 address would limit nothing. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its
 * IPv4 address, and so is an IPv4 client behind NAT64. Anything else (it never should be) is used as it is.
 */
export function ipLimitKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const groups = ipv6Groups(ip.split('%')[0]!);
  if (groups === undefined) return ip;
  const embedded = () => [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  // IPv4 clients written as IPv6: mapped (::ffff:0:0/96), translated (::ffff:0:0:0/96) and the
  // well-known NAT64 prefix (64:ff9b::/96). Each is its IPv4 client, not one /64 shared by all.
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return embedded();
  if (zeros(0, 4) && groups[4] === 0xffff && groups[5] === 0) return embedded();
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return embedded();
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted IPv4 part converted). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const dotted = text.slice(lastColon + 1);
  if (isIPv4(dotted)) {
    const [a, b, c, d] = dotted.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...Array<number>(missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
