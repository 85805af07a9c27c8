// otpauth:// URIs, the enrolment format of authenticator apps (Google's "Key Uri Format"):
//
//   otpauth://TYPE/[ISSUER:]ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
//   otpauth://hotp/...&counter=N
//
// `build` writes the strict form: label parts percent-encoded (so ':' inside an issuer or an
// account is %3A and the one literal ':' separates them), secret in unpadded base32, defaults
// left out (a shorter URI is a smaller, easier-to-scan QR code). `parse` reads what real apps
// and panels emit: any case in the scheme and type, an encoded separator (%3A), spaces after
// it, '+' for spaces in parameters (PHP's urlencode), lower-case or hyphenated algorithm names,
// padded or unpadded secrets, and extra parameters (image, color, ...) that it ignores. It
// refuses what would silently change the key or its meaning: a missing or bad secret, an issuer
// that disagrees with the label, a parameter given twice, digits or periods the engine does
// not compute, an HOTP URI without a counter. Error messages name the problem, never a value
// from the URI: a garbled URI may carry the secret anywhere.

import { hostname } from 'node:os';
import { type Algorithm, algorithmOption, parseAlgorithmName } from './algorithm.js';
import { Base32Error, decode, encode } from './base32.js';
import { boolOption, choiceOption, intOption, optionsObject } from './errors.js';
import { checkCounter } from './hotp.js';
import { DIGITS, type Digits } from './otp.js';
import { DEFAULT_MIN_SECRET_BYTES, describeSecretProblem, type Secret, secretBytes } from './secret.js';
import { MAX_PERIOD } from './totp.js';

export type OtpType = 'totp' | 'hotp';

/** What an otpauth URI says. */
export interface OtpauthKey {
  readonly type: OtpType;
  /** The service, from the `issuer` parameter or the label prefix; undefined when the URI names none. */
  readonly issuer: string | undefined;
  /** The account name (user name or e-mail address) from the label. */
  readonly account: string;
  /** The decoded key bytes. */
  readonly secret: Uint8Array;
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  /** TOTP: the step in seconds (default 30). Undefined for HOTP. */
  readonly period: number | undefined;
  /** HOTP: the next counter value. Undefined for TOTP. */
  readonly counter: bigint | undefined;
  /**
   * True when the secret is shorter than 16 bytes (accepted only because `minSecretBytes` was
   * lowered): the account should be re-enrolled with a new secret.
   */
  readonly rotate: boolean;
}

export interface BuildOptions {
  /** 'totp' (default) or 'hotp'. */
  type?: OtpType;
  /** The account name shown in the app (an e-mail address or user name); required. */
  account: string;
  /** The service shown in the app; default this machine's host name, as WHM does. */
  issuer?: string;
  /** Raw key bytes or base32 text. */
  secret: Secret;
  algorithm?: Algorithm;
  digits?: Digits;
  /** TOTP step in seconds (1..86400, default 30). */
  period?: number;
  /** HOTP: the counter the app starts from; required for 'hotp'. */
  counter?: number | bigint;
  /** Shortest secret accepted, in bytes (default 16; lower only for legacy secrets). */
  minSecretBytes?: number;
}

export interface ParseOptions {
  /** Shortest secret accepted, in bytes (default 16). Shorter secrets are flagged `rotate`. */
  minSecretBytes?: number;
  /** Accept base32 secrets whose last character has non-zero unused bits (default false). */
  allowBase32TrailingBits?: boolean;
}

/** Thrown by `otpauth.parse` for a URI it refuses. The message never contains a value from the URI. */
export class OtpauthError extends Error {
  constructor(message: string) {
    super(`otpauth: ${message}`);
    this.name = 'OtpauthError';
  }
}

/** Longest URI parsed: a version-40 QR code holds at most 4296 alphanumeric characters. */
const MAX_URI_LENGTH = 4296;
/** Longest issuer or account name, in UTF-16 code units. */
const MAX_NAME_LENGTH = 256;
const MAX_SECRET_BYTES = 256;
const MAX_COUNTER = (1n << 64n) - 1n;
/**
 * Control characters (C0, DEL and C1; Unicode category Cc), the line and paragraph separators
 * (U+2028, U+2029) and the bidirectional formatting characters (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069): apps display names on one line, and these have no place in
 * one. C1's U+0085 (NEL) and the separators break it where they are rendered; a right-to-left
 * override makes a name read as another one in the app's list (as "Trojan Source" does in code).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const IS_WELL_FORMED = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

function checkName(name: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw new TypeError(`"${name}" expected a string`);
  if (value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new RangeError(`"${name}" expected 1..${MAX_NAME_LENGTH} characters`);
  }
  if (CONTROL.test(value)) {
    throw new RangeError(`"${name}" must not contain control characters (C0, C1, line or paragraph separators, bidirectional formatting)`);
  }
  // A lone surrogate has no UTF-8 form: encodeURIComponent would throw a URIError naming nothing.
  if (!IS_WELL_FORMED.call(value)) throw new RangeError(`"${name}" must be well-formed Unicode (no lone surrogates)`);
  if (value.trim() !== value) throw new RangeError(`"${name}" must not start or end with white space`);
  return value;
}

/**
 * An otpauth URI for an authenticator app (for a QR code or a link). Throws TypeError /
 * RangeError, naming the option, for bad input; never puts the secret in a message.
 *
 * @example
 * otpauth.build({ account: 'alice@example.com', issuer: 'Example Co', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' })
 * // 'otpauth://totp/Example%20Co:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example%20Co'
 */
export function build(options: BuildOptions): string {
  if (options === undefined) throw new TypeError('"options" expected an object with account and secret');
  const o = optionsObject<BuildOptions>('options', options);
  const type = o.type ?? 'totp';
  if (type !== 'totp' && type !== 'hotp') throw new RangeError('"type" expected "totp" or "hotp"');
  const account = checkName('account', o.account, true)!;
  // WHM names the server; an empty host name (possible in containers) leaves the issuer out.
  const issuer = o.issuer === undefined ? defaultIssuer() : checkName('issuer', o.issuer, true);
  // Without a literal ':' in the label, parse (as apps do) takes an encoded one as the separator:
  // 'corp:alice' with no issuer would come back as issuer 'corp', account 'alice'.
  if (issuer === undefined && account.includes(':')) {
    throw new RangeError('"account" must not contain ":" in a URI without an issuer (the host name gives none here: pass "issuer")');
  }
  const algorithm = algorithmOption('algorithm', o.algorithm, 'SHA1');
  const digits = choiceOption('digits', o.digits, DIGITS, 6);
  const rules = {
    minSecretBytes: intOption('minSecretBytes', o.minSecretBytes, 1, DEFAULT_MIN_SECRET_BYTES, DEFAULT_MIN_SECRET_BYTES),
    maxSecretBytes: MAX_SECRET_BYTES,
    allowBase32TrailingBits: false,
  };
  const given: unknown = o.secret; // read once: the wipe below is for our own decoded copy only
  const key = secretBytes(given, rules);
  if (typeof key === 'string') {
    const message = describeSecretProblem(key, rules);
    throw key === 'secret-length' ? new RangeError(message) : new TypeError(message);
  }
  const secret = encode(key);
  if (typeof given === 'string') key.fill(0); // decoded here: our copy
  let label = encodeURIComponent(account);
  if (issuer !== undefined) label = `${encodeURIComponent(issuer)}:${label}`;
  let query = `secret=${secret}`;
  if (issuer !== undefined) query += `&issuer=${encodeURIComponent(issuer)}`;
  if (algorithm !== 'SHA1') query += `&algorithm=${algorithm}`;
  if (digits !== 6) query += `&digits=${digits}`;
  if (type === 'totp') {
    if (o.counter !== undefined) throw new TypeError('"counter" is for hotp; a totp URI has none');
    const period = intOption('period', o.period, 1, MAX_PERIOD, 30);
    if (period !== 30) query += `&period=${period}`;
  } else {
    if (o.period !== undefined) throw new TypeError('"period" is for totp; an hotp URI has none');
    if (o.counter === undefined) throw new TypeError('"counter" is required for hotp');
    query += `&counter=${checkCounter(o.counter)}`;
  }
  return `otpauth://${type}/${label}?${query}`;
}

function defaultIssuer(): string | undefined {
  const name = hostname();
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && !CONTROL.test(name) ? name : undefined;
}

/** Percent-decoding that reports a bad escape as an OtpauthError naming only the part. */
function unescape(text: string, part: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? text.replaceAll('+', ' ') : text);
  } catch {
    throw new OtpauthError(`${part} has invalid percent-encoding`);
  }
}

const KNOWN = new Set(['secret', 'issuer', 'algorithm', 'digits', 'period', 'counter']);

/** The known parameters of a query, decoded; unknown ones are skipped, a repeated known one refused. */
function readQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    // Names are case-insensitive here: a few generators capitalise them.
    const name = unescape(eq < 0 ? pair : pair.slice(0, eq), 'a parameter name', true).toLowerCase();
    if (!KNOWN.has(name)) continue;
    if (params.has(name)) throw new OtpauthError(`the "${name}" parameter appears more than once`);
    params.set(name, unescape(eq < 0 ? '' : pair.slice(eq + 1), `the "${name}" parameter`, true));
  }
  return params;
}

/** Splits the raw (still encoded) label into issuer prefix and account. */
function readLabel(raw: string, issuerParam: string | undefined): { prefix: string | undefined; account: string } {
  let prefix: string | undefined;
  let account: string;
  const colon = raw.indexOf(':');
  if (colon >= 0) {
    // A literal ':' is the separator; a ':' inside either part is encoded (%3A).
    prefix = unescape(raw.slice(0, colon), 'the label', false);
    account = unescape(raw.slice(colon + 1), 'the label', false);
  } else {
    // Some apps encode the separator too. The issuer parameter, when given, says where the
    // prefix ends (it may contain a ':' itself); otherwise the first ':' separates.
    const label = unescape(raw, 'the label', false);
    const at = issuerParam !== undefined && label.startsWith(`${issuerParam}:`) ? issuerParam.length : label.indexOf(':');
    if (at >= 0) {
      prefix = label.slice(0, at);
      account = label.slice(at + 1);
    } else {
      account = label;
    }
  }
  // The key URI format allows spaces after the separator.
  account = account.replace(/^ +/, '');
  return { prefix: prefix === '' ? undefined : prefix, account };
}

function readInt(params: Map<string, string>, name: string): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new OtpauthError(`the "${name}" parameter is not a whole number`);
  return Number(text);
}

/**
 * Reads an otpauth URI as authenticator apps and control panels write it. Throws OtpauthError
 * for a URI it refuses (the message never quotes the URI) and TypeError / RangeError for bad
 * options.
 *
 * @example
 * const key = otpauth.parse('otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example');
 * key.issuer // 'Example'; key.account // 'alice@google.com'; key.secret // 20 bytes
 */
export function parse(uri: string, options?: ParseOptions): OtpauthKey {
  const o = optionsObject<ParseOptions>('options', options);
  const rules = {
    minSecretBytes: intOption('minSecretBytes', o.minSecretBytes, 1, DEFAULT_MIN_SECRET_BYTES, DEFAULT_MIN_SECRET_BYTES),
    maxSecretBytes: MAX_SECRET_BYTES,
    allowBase32TrailingBits: boolOption('allowBase32TrailingBits', o.allowBase32TrailingBits, false),
  };
  if (typeof uri !== 'string') throw new TypeError('"uri" expected a string');
  if (uri.length > MAX_URI_LENGTH) throw new OtpauthError(`the URI is longer than ${MAX_URI_LENGTH} characters`);
  const m = /^otpauth:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?(?:#.*)?$/is.exec(uri.trim());
  if (m === null) throw new OtpauthError('not an otpauth://TYPE/LABEL?PARAMETERS URI');
  const type = m[1]!.toLowerCase();
  if (type !== 'totp' && type !== 'hotp') throw new OtpauthError('the type must be totp or hotp');
  const params = readQuery(m[3] ?? '');

  const issuerParam = params.get('issuer');
  const { prefix, account } = readLabel(m[2]!, issuerParam === '' ? undefined : issuerParam);
  if (account.length === 0) throw new OtpauthError('the label has no account name');
  let issuer = issuerParam === '' ? undefined : issuerParam;
  // PHP's urlencode writes spaces as '+' in the label too, where '+' is otherwise literal
  // (alice+tag@example.com): accept a prefix that matches the parameter once '+' is a space.
  if (issuer !== undefined && prefix !== undefined && prefix !== issuer && prefix.replaceAll('+', ' ') !== issuer) {
    throw new OtpauthError('the issuer parameter and the label prefix disagree');
  }
  issuer ??= prefix;
  for (const [name, value] of [['issuer', issuer], ['account', account]] as const) {
    if (value !== undefined && (value.length > MAX_NAME_LENGTH || CONTROL.test(value))) {
      throw new OtpauthError(`the ${name} is longer than ${MAX_NAME_LENGTH} characters or has control characters`);
    }
  }

  const secretText = params.get('secret');
  if (secretText === undefined || secretText.length === 0) throw new OtpauthError('the secret parameter is missing');
  let secret: Uint8Array;
  try {
    secret = decode(secretText, { allowTrailingBits: rules.allowBase32TrailingBits });
  } catch (error) {
    if (error instanceof Base32Error) throw new OtpauthError(`the secret is not valid base32 (${error.message.replace(/^base32: /, '')})`);
    throw error;
  }
  if (secret.length < rules.minSecretBytes || secret.length > rules.maxSecretBytes) {
    const n = secret.length;
    secret.fill(0);
    throw new OtpauthError(n < rules.minSecretBytes
      ? `the secret has ${n} bytes, fewer than ${rules.minSecretBytes} (lower minSecretBytes to accept a legacy secret, then rotate it)`
      : `the secret has ${n} bytes, more than ${rules.maxSecretBytes}`);
  }

  const algorithmText = params.get('algorithm');
  const algorithm = algorithmText === undefined ? 'SHA1' : parseAlgorithmName(algorithmText);
  if (algorithm === undefined) throw new OtpauthError('the algorithm must be SHA1, SHA256 or SHA512');
  const digits = readInt(params, 'digits') ?? 6;
  if (!(DIGITS as readonly number[]).includes(digits)) throw new OtpauthError('digits must be 6, 7 or 8');

  let period: number | undefined;
  let counter: bigint | undefined;
  if (type === 'totp') {
    period = readInt(params, 'period') ?? 30;
    if (period < 1 || period > MAX_PERIOD) throw new OtpauthError(`the period must be 1..${MAX_PERIOD} seconds`);
  } else {
    const text = params.get('counter');
    if (text === undefined) throw new OtpauthError('an hotp URI needs a counter parameter');
    if (!/^\d{1,20}$/.test(text) || BigInt(text) > MAX_COUNTER) throw new OtpauthError('the counter must be a whole number 0..2^64-1');
    counter = BigInt(text);
  }
  return Object.freeze({
    type, issuer, account, secret, algorithm, digits: digits as Digits, period, counter,
    rotate: secret.length < DEFAULT_MIN_SECRET_BYTES,
  });
}
