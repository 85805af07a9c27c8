// Time steps are exact at every step boundary a JS number can express (no correction needed).

import { describe, expect, it } from 'vitest';
import { timeStep } from '../src/time.js';

const MAX = Number.MAX_SAFE_INTEGER;

describe('timeStep', () => {
  it('is exact on both sides of step boundaries, up to 2^53 - 1 ms, for many periods', () => {
    for (const period of [1, 2, 7, 30, 60, 64, 1024, 3600, 86_400]) {
      const unit = period * 1000;
      const top = Math.floor(MAX / unit);
      for (const k of [1, 2, 3, top - 2, top - 1, top, 2 ** 31, 2 ** 32, Math.floor(top / 3)]) {
        if (k * unit > MAX) continue;
        const boundary = k * unit;
        expect(timeStep(boundary, { period, t0: 0 })).toBe(k);
        expect(timeStep(boundary - 1, { period, t0: 0 })).toBe(k - 1);
        if (boundary + unit - 1 <= MAX) expect(timeStep(boundary + unit - 1, { period, t0: 0 })).toBe(k);
      }
      expect(BigInt(timeStep(MAX, { period, t0: 0 }))).toBe(BigInt(MAX) / BigInt(unit));
    }
  });

  it('subtracts T0 and floors fractional milliseconds', () => {
    expect(timeStep(59_999.9, { period: 30, t0: 0 })).toBe(1);
    expect(timeStep(100_000, { period: 30, t0: 100 })).toBe(0);
    expect(timeStep(130_000, { period: 30, t0: 100 })).toBe(1);
    expect(timeStep(99_999, { period: 30, t0: 100 })).toBe(-1);
  });

  it('refuses what is not a finite time at or after T0, below 2^53', () => {
    for (const bad of [NaN, Infinity, -Infinity, -1, MAX + 2, 2 ** 60, '1', null, undefined, 1n, {}]) {
      expect(timeStep(bad, { period: 30, t0: 0 })).toBe(-1);
    }
  });
});
