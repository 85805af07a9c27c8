// Spares: the keep-for-reuse pool of the verifier's scratch and the policy runner's columns.

import { describe, expect, it } from 'vitest';
import { Spares } from '../src/spares.js';

const size = (a: Uint8Array): number => a.length;

describe('Spares', () => {
  it('hands out a kept one at least as large as asked, once', () => {
    const spares = new Spares(size, 4, 1000);
    const small = new Uint8Array(10);
    const large = new Uint8Array(100);
    spares.give(small);
    spares.give(large);
    expect(spares.take(50)).toBe(large);
    expect(spares.take(50)).toBeUndefined();
    expect(spares.take(10)).toBe(small);
    expect(spares.take(1)).toBeUndefined();
  });

  it('keeps at most `keep`, none larger than `largest`', () => {
    const spares = new Spares(size, 2, 100);
    spares.give(new Uint8Array(101));
    expect(spares.take(0)).toBeUndefined();
    const kept = [new Uint8Array(1), new Uint8Array(2)];
    for (const k of kept) spares.give(k);
    spares.give(new Uint8Array(3)); // over the limit: not kept
    expect(new Set([spares.take(0), spares.take(0), spares.take(0)])).toEqual(new Set([...kept, undefined]));
  });
});
