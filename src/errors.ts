// The error model. Per-item problems are results (see verify/types.ts, VerifyResult), never exceptions; what
// is thrown is a programmer error (TypeError / RangeError for bad options) or an operational
// failure, as a TotpFleetError with a stable `code`.

/** Stable codes of operational failures. */
export type TotpFleetErrorCode =
  | 'ERR_CLOSED'
  | 'ERR_OVERLOADED'
  | 'ERR_CORE_MISSING'
  | 'ERR_CORE_LAYOUT'
  | 'ERR_CORE_FAILED'
  | 'ERR_STORE_UNAVAILABLE';

/** An operational failure of totp-fleet. Never carries a secret or a code. */
export class TotpFleetError extends Error {
  readonly code: TotpFleetErrorCode;

  constructor(code: TotpFleetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TotpFleetError';
    this.code = code;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * An integer option in min..max, or `fallback` when undefined.
 * Throws TypeError for a non-integer, RangeError for one out of range.
 */
export function intOption(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`"${name}" expected an integer ${min}..${max}, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`"${name}" expected an integer ${min}..${max}, got ${value}`);
  }
  return value;
}

/** A boolean option, or `fallback` when undefined. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`"${name}" expected a boolean, got ${describe(value)}`);
  return value;
}

/** One of the listed integers, or `fallback` when undefined. */
export function choiceOption<T extends number>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`"${name}" expected one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  if (!allowed.includes(value as T)) {
    throw new RangeError(`"${name}" expected one of ${allowed.join(', ')}, got ${value}`);
  }
  return value as T;
}

/** An options bag: undefined or a plain object. */
export function optionsObject<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"${name}" expected an object, got ${describe(value)}`);
  }
  return value as Partial<T>;
}
