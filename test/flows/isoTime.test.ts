// The API's times must read exactly as Date#toISOString writes them, whatever the value.
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/flows/isoTime.js';

describe('isoTime', () => {
  it('writes what toISOString writes, at the edges of days, years and the four-digit years', () => {
    const cases = [
      0, 1, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 10, 29, 12, 0, 0, 7),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, -1, -86_400_001, 8.64e15, -8.64e15, 1.5, 1795000000000.25,
    ];
    for (const ms of cases) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('writes what toISOString writes for 100,000 times spread over 1970 to 9999', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor(random() * 253_402_300_800_000);
      expect(isoTime(ms) === new Date(ms).toISOString(), String(ms)).toBe(true);
    }
  });

  it('refuses what toISOString refuses', () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
