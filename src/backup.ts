// Backup codes: the codes that rescue a user who lost the phone. A set is generated, shown
// once, and kept only as salted hashes in the store; each code works once, fleet-wide.
//
// Codes are `length` characters (default 10) of Crockford's base32 alphabet (0-9 a-z without
// i l o u), 5 bits each from the CSPRNG: 50 bits by default, printed in groups of five
// ("k3v9q-7xw2m"). Typing is forgiving: case, spaces and hyphens are ignored, and i/l read as
// 1, o as 0. That is safe here (unlike for TOTP codes, SECURITY.md R4) because the canonical
// form is what is hashed and consumed: another spelling of a used code finds nothing.
//
// Hashes: HMAC-SHA256 keyed by a random 128-bit salt per set. The codes are random with at
// least 50 bits, so there is no dictionary to precompute and no weak code to try first; the
// salt stops one computation from serving many accounts or sets. An attacker who steals the
// store must search 2^49 HMACs per set on average (roughly a GPU-day each) to recover a code
// that still needs the account's password; online guessing is held to the account's failure
// limit. A slow password hash would add little for codes this random.
//
// Verification: begin (the account's TOTP credential: a locked account is refused, one attempt
// reserved) and the set's salt in parallel; then the hash is consumed by one atomic store call
// (a Lua script on Redis); then finish: a consumed code resets the failures, a wrong one
// counts toward the same limit as the account's TOTP codes.

import { createHmac, getRandomValues } from 'node:crypto';
import { intOption, optionsObject } from './errors.js';
import { audit } from './policy/audit.js';
import { isAccount } from './policy/options.js';
import { abandon, beginOne, failed, finishOne, lost, type Subject } from './policy/single.js';
import { type AttemptLimits, DONE_COMMITTED, OP_FAILURE, OP_RESET, type Store } from './store/types.js';
import type { VerifyResult } from './verifier.js';

/** How sets are made and kept. */
export interface BackupCodeOptions {
  /** Codes per set (1..100); default 10. */
  count?: number;
  /** Characters per code (10..40, 5 bits each); default 10 (50 bits). */
  length?: number;
  /** How long a set is kept, in ms (1 day..20 years); default 5 years. */
  keepMs?: number;
}

/** The answer to one backup code. */
export interface BackupCodeResult {
  /**
   * 'valid': the code was in the account's set and is now used up. 'invalid': it was not
   * (never issued, used already, or from a replaced set; counted as a failure). 'locked',
   * 'malformed' ('account' or 'code'), 'error' ('store'): as for TOTP.
   */
  status: 'valid' | 'invalid' | 'locked' | 'malformed' | 'error';
  /** For 'valid': codes left in the set. */
  remaining?: number;
  /** For 'locked': ms until the account may try again (at most). */
  retryAfterMs?: number;
  reason?: 'account' | 'code' | 'store';
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Crockford's decoding: each typed character to its canonical one ('' when not allowed). */
const CANONICAL = new Map<string, string>([...ALPHABET].map((c) => [c, c]));
for (const [typed, canonical] of [['i', '1'], ['l', '1'], ['o', '0']] as const) CANONICAL.set(typed, canonical);
const DAY = 86_400_000;

/** The canonical form of a typed code, or undefined when it cannot be one. */
export function canonicalBackupCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length > 100) return undefined;
  let out = '';
  for (const ch of code.toLowerCase()) {
    if (ch === '-' || ch === ' ') continue;
    const c = CANONICAL.get(ch);
    if (c === undefined) return undefined;
    out += c;
  }
  return out.length >= 10 && out.length <= 40 ? out : undefined;
}

function hashCode(salt: string, canonical: string): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(canonical).digest('hex');
}

/** One random code of `length` characters, grouped by five with hyphens. */
function randomCode(length: number): string {
  // 256 is a multiple of 32: the low five bits of a random byte are uniform.
  const bytes = getRandomValues(new Uint8Array(length));
  let out = '';
  for (let i = 0; i < length; i++) out += (i > 0 && i % 5 === 0 ? '-' : '') + ALPHABET[bytes[i]! & 31];
  bytes.fill(0);
  return out;
}

const MALFORMED_ACCOUNT: Readonly<BackupCodeResult> = Object.freeze({ status: 'malformed', reason: 'account' });
const MALFORMED_CODE: Readonly<BackupCodeResult> = Object.freeze({ status: 'malformed', reason: 'code' });

/**
 * An account's backup codes, kept in the verifier's store and limited by its failure limit.
 * Reached as `verifier.backupCodes`.
 *
 * @example
 * const codes = await verifier.backupCodes.generate('alice@example.com'); // show them once
 * const r = await verifier.backupCodes.verify('alice@example.com', 'K3V9Q 7XW2M');
 * // r.status 'valid', r.remaining 9; the same code again: 'invalid'
 */
export class BackupCodes {
  readonly #store: Store;
  readonly #limits: AttemptLimits;
  readonly #verifier: string;
  readonly #count: number;
  readonly #length: number;
  readonly #keepMs: number;
  readonly #assertOpen: () => void;

  /** @internal Made by the verifier, with its store and failure limit. */
  constructor(store: Store, limits: AttemptLimits, verifier: string, opts: unknown, assertOpen: () => void) {
    const o = optionsObject<BackupCodeOptions>('backupCodes', opts);
    this.#count = intOption('backupCodes.count', o.count, 1, 100, 10);
    this.#length = intOption('backupCodes.length', o.length, 10, 40, 10);
    this.#keepMs = intOption('backupCodes.keepMs', o.keepMs, DAY, 20 * 365 * DAY, 5 * 365 * DAY);
    this.#store = store;
    this.#limits = limits;
    this.#verifier = verifier;
    this.#assertOpen = assertOpen;
  }

  /** Bits of randomness per code with these options (5 per character). */
  get bits(): number {
    return this.#length * 5;
  }

  /**
   * Makes a new set for the account and returns its codes, to be shown once: only their salted
   * hashes are kept. The account's previous set stops working. `count` overrides the default.
   * Rejects ERR_STORE_UNAVAILABLE when the store cannot keep it.
   */
  async generate(account: string, opts?: { count?: number }): Promise<string[]> {
    this.#assertOpen();
    if (!isAccount(account)) throw new TypeError('"account" expected a string of 1..512 characters');
    const count = intOption('count', optionsObject<{ count?: number }>('opts', opts).count, 1, 100, this.#count);
    const codes = new Set<string>();
    while (codes.size < count) codes.add(randomCode(this.#length));
    const salt = Buffer.from(getRandomValues(new Uint8Array(16))).toString('hex');
    const hashes = [...codes].map((code) => hashCode(salt, canonicalBackupCode(code)!));
    await this.#store.putBackupCodes(account, { salt, hashes, createdAt: Date.now() }, this.#keepMs);
    return [...codes];
  }

  /** Verifies and consumes one code (see BackupCodeResult). Never rejects for bad input. */
  async verify(account: string, code: string): Promise<BackupCodeResult> {
    this.#assertOpen();
    if (!isAccount(account)) return MALFORMED_ACCOUNT;
    const canonical = canonicalBackupCode(code);
    if (canonical === undefined) return MALFORMED_CODE;
    const s: Subject = { store: this.#store, limits: this.#limits, verifier: this.#verifier, account, method: 'backup-code' };
    const [begun, info] = await Promise.all([beginOne(s), this.#store.backupCodeInfo(account).then((v) => v, () => null)]);
    if (typeof begun !== 'number') return begun as BackupCodeResult;
    if (info === null) return abandon(s) as Promise<BackupCodeResult>;
    let left = -1;
    if (info !== undefined) {
      try {
        left = await this.#store.consumeBackupCode(account, hashCode(info.salt, canonical));
      } catch {
        return abandon(s) as Promise<BackupCodeResult>;
      }
    }
    // A used code is not told apart from a wrong one: both are counted failures, and nothing
    // is kept of used codes.
    const done = await finishOne(s, left >= 0 ? OP_RESET : OP_FAILURE);
    // A consumed code whose finish failed is used up, but not answered valid (fail closed).
    if (done === undefined) return lost(s) as BackupCodeResult;
    if (left < 0) return failed(s, done) as BackupCodeResult;
    if (done !== DONE_COMMITTED) return lost(s) as BackupCodeResult;
    audit(this.#verifier, { type: 'valid', account, method: 'backup-code' });
    return Object.freeze({ status: 'valid', remaining: left });
  }

  /** Codes of the account's set not used yet (0 without a set). */
  async remaining(account: string): Promise<number> {
    this.#assertOpen();
    if (!isAccount(account)) throw new TypeError('"account" expected a string of 1..512 characters');
    return (await this.#store.backupCodeInfo(account))?.remaining ?? 0;
  }

  /** Deletes the account's set: none of its codes works any more. */
  async revoke(account: string): Promise<void> {
    this.#assertOpen();
    if (!isAccount(account)) throw new TypeError('"account" expected a string of 1..512 characters');
    await this.#store.deleteBackupCodes(account);
  }
}
