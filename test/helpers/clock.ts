// A clock the test moves by hand.
import type { Clock } from '../../src/flows/ports.js';

export class ManualClock implements Clock {
  constructor(private current = Date.now()) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
