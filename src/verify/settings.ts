// A verifier's resolved settings (digits, hash, secret limits, period, t0, window), validated
// once at construction, and the one sum made from them for clock health (phoneOffset).

import { intOption } from '../errors.js';
import { type ResolvedCommon, resolveCommon } from '../otp.js';
import { resolveTime } from '../totp.js';
import type { VerifierOptions, WindowOptions } from './types.js';

export interface Settings extends ResolvedCommon {
  readonly period: number;
  readonly t0: number;
  readonly past: number;
  readonly future: number;
}

/**
 * @internal How a HOTP verifier (hotp-verifier.ts) differs from a TOTP one: an account's
 * counter comes from the store (the last accepted counter + 1), not from the time; the window
 * is { past: lookBack, future: lookAhead } around it; its marks are kept `counterMemoryMs`.
 */
export interface CounterMode {
  readonly counterMemoryMs: number;
}

/** The settings of `opts` (TypeError / RangeError naming the option); `maxWindow` is the core's. */
export function resolveSettings(opts: VerifierOptions, maxWindow: number): Settings {
  return Object.freeze({
    ...resolveCommon(opts),
    ...resolveTime(opts),
    ...resolveWindow(opts.window, maxWindow),
  });
}

function resolveWindow(value: unknown, max: number): { past: number; future: number } {
  if (value === undefined || typeof value === 'number') {
    const both = intOption('window', value, 0, max, 1);
    return { past: both, future: both };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"window" expected an integer 0..${max} or { past, future }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const w = value as WindowOptions;
  return {
    past: intOption('window.past', w.past, 0, max, 1),
    future: intOption('window.future', w.future, 0, max, 1),
  };
}

/** (phone − server) in seconds, estimated from a matched step: its midpoint minus `timeMs`. */
export function phoneOffset(s: Settings, matchedStep: number, timeMs: number): number {
  return s.t0 + (matchedStep + 0.5) * s.period - timeMs / 1000;
}
