// The state behind replay protection and failure limits, as a small batch interface.
//
// A verification with state is two round trips per batch, whatever its size (SECURITY.md,
// "The order of a verification"):
//
//   begin(accounts)    per credential, atomically: refuse if locked; otherwise reserve one
//                      attempt (so that parallel guesses cannot overshoot the limit) and
//                      return the high-water mark of the last accepted step and the drift.
//   (the core evaluates the codes, with each item's floor = high-water mark + 1)
//   finish(accounts)   per credential, atomically, in order: commit a success (check-and-mark
//                      the step, reset the failures), count a failure (lock at the limit), or
//                      release the reservation (replayed, error).
//
// Both take and return columns (typed arrays), not an object per item: a batch of 10,000 costs
// a few allocations. An item appears at most once per call (the verifier runs a second call
// for a second request of the same account in one batch, so that they act as if sequential).
//
// A store that cannot answer rejects the whole call with TotpFleetError('ERR_STORE_UNAVAILABLE');
// the verifier turns that into `error` for those items: never `valid`, never a counted failure.
// A store that can answer for some credentials and not others answers those BEGIN_ERROR /
// DONE_ERROR and the rest as usual: rejecting the whole call would leave the others' attempts
// reserved (begin) or unfinished (finish) until reservationMs, with nobody to release them.

/** How attempts are limited and how long state is kept; resolved by the verifier. */
export interface AttemptLimits {
  /** Consecutive failures that lock a credential (1..100). */
  readonly maxFailures: number;
  /** How long a lock lasts, in ms. */
  readonly lockoutMs: number;
  /** How long a failure streak is remembered after its last failure, in ms. */
  readonly failureMemoryMs: number;
  /** How long a reserved attempt is held if it is never finished (a crashed process), in ms. */
  readonly reservationMs: number;
  /** How long a high-water mark is kept after its success, in ms (window + drift + fleet skew). */
  readonly replayMs: number;
  /** How long learned drift is kept after the last success, in ms. */
  readonly driftMemoryMs: number;
}

/** begin: the credential may be evaluated; an attempt is reserved. */
export const BEGIN_GO = 0;
/** begin: locked (or as many attempts in flight as the limit allows); do not evaluate. */
export const BEGIN_LOCKED = 1;
/** begin: the store cannot hold this credential (MemoryStore full); fail closed. */
export const BEGIN_ERROR = 2;

/** Answers of `begin`, one slot per account. */
export interface BeginResult {
  /** BEGIN_* per account. */
  readonly state: Uint8Array;
  /** GO: the last accepted step, or -1 when none is known. */
  readonly lastStep: Float64Array;
  /** GO: learned drift in steps (0 when none). */
  readonly drift: Int32Array;
  /** LOCKED: ms until another attempt may be made (at most). */
  readonly retryAfterMs: Float64Array;
}

/** finish: a match at `step`: check-and-mark it, reset the failures, keep `drift`. */
export const OP_SUCCESS = 0;
/** finish: no match: count a failure. */
export const OP_FAILURE = 1;
/** finish: neither (replayed, or an error evaluating it): give the reservation back. */
export const OP_RELEASE = 2;
/**
 * finish: a success that marks no step (a backup code was consumed): reset the failures and
 * the lock, give the reservation back; the high-water mark is left as it is. Answers DONE_COMMITTED.
 */
export const OP_RESET = 3;

/** What `finish` does, one slot per account. */
export interface FinishOps {
  /** OP_* per account. */
  readonly op: Uint8Array;
  /** OP_SUCCESS: the matched step. */
  readonly step: Float64Array;
  /** OP_SUCCESS: drift to remember, in steps; NaN keeps what is stored (learning is off). */
  readonly drift: Float64Array;
}

/** finish, OP_SUCCESS: the mark is committed: the code is accepted. */
export const DONE_COMMITTED = 0;
/** finish, OP_SUCCESS: a step at or after this one was accepted meanwhile: replayed. */
export const DONE_REPLAYED = 1;
/** finish, OP_FAILURE: counted. */
export const DONE_FAILED = 2;
/** finish, OP_FAILURE: counted, and it reached the limit: the credential is now locked. */
export const DONE_LOCKED = 3;
/** finish, OP_RELEASE: released. */
export const DONE_RELEASED = 4;
/**
 * finish, any op: this credential alone could not be read or written (RedisStore: a key of
 * another layout, or a call of the batch that failed); nothing known to be done: answer `error`.
 */
export const DONE_ERROR = 5;

/**
 * Whether `done` is an answer `finish` may give for `op` (DONE_ERROR aside): COMMITTED or
 * REPLAYED for a success, FAILED or LOCKED for a failure, COMMITTED for a reset, RELEASED for a
 * release. Anything else (a custom store's bug, a short answer read past its end) is treated as
 * DONE_ERROR by the callers: neither committed nor counted, so never `valid` nor `invalid` (R8).
 */
export function answersOp(op: number | undefined, done: number | undefined): boolean {
  switch (op) {
    case OP_SUCCESS: return done === DONE_COMMITTED || done === DONE_REPLAYED;
    case OP_FAILURE: return done === DONE_FAILED || done === DONE_LOCKED;
    case OP_RESET: return done === DONE_COMMITTED;
    case OP_RELEASE: return done === DONE_RELEASED;
    default: return false;
  }
}

/**
 * Where per-credential state lives. MemoryStore (one process) and RedisStore (a fleet) implement
 * it; a custom store must keep each credential's operations atomic and in call order.
 */
export interface Store {
  begin(accounts: readonly string[], limits: AttemptLimits): Promise<BeginResult>;
  /** DONE_* per account. */
  finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits): Promise<Uint8Array>;
  /** Resolves when the store can run its scripts; rejects ERR_STORE_UNAVAILABLE otherwise. */
  health(): Promise<void>;
  close(): Promise<void>;
  /**
   * The same store under a namespace (e.g. 'hotp'): its credentials are apart from this store's
   * of the same name (own mark, failures and lock), on the same connection and, on Redis, the
   * same Cluster slot. Closing this store closes it. One object per name.
   */
  namespace(name: string): Store;
  /**
   * Deletes a credential's state (mark, failures, lock, drift): re-enrolment of a HOTP token. An
   * attempt begun before and finished after it writes nothing (DONE_ERROR, its reservation given
   * back), and until such attempts end (or their reservation lapses) begin answers BEGIN_LOCKED.
   */
  forget(account: string): Promise<void>;
  /**
   * Replaces the account's backup-code set (the old one stops working) with these hex hashes
   * and their set's salt, kept for `keepMs`.
   */
  putBackupCodes(account: string, set: BackupCodeSet, keepMs: number): Promise<void>;
  /** The account's backup-code set, without its hashes; undefined when it has none. */
  backupCodeInfo(account: string): Promise<BackupCodeInfo | undefined>;
  /**
   * Atomically removes `hash` from the account's set: the codes left, or -1 when the hash is not
   * in it (never issued, used already, or replaced by a newer set). Fleet-wide single use.
   */
  consumeBackupCode(account: string, hash: string): Promise<number>;
  /** Deletes the account's backup-code set. */
  deleteBackupCodes(account: string): Promise<void>;
}

/** A backup-code set as stored: salted hashes only, never a code. */
export interface BackupCodeSet {
  /** The set's random salt, hex. */
  readonly salt: string;
  /** One hash per code, hex. */
  readonly hashes: readonly string[];
  /** When it was made, ms since the epoch. */
  readonly createdAt: number;
}

/** What is known of a stored set without its hashes. */
export interface BackupCodeInfo {
  readonly salt: string;
  /** Codes not used yet. */
  readonly remaining: number;
  readonly createdAt: number;
}

/** Names a namespace may have: short, and unable to forge a key of another namespace. */
export const NAMESPACE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Empty begin columns for `n` accounts. */
export function beginResult(n: number): BeginResult {
  return {
    state: new Uint8Array(n),
    lastStep: new Float64Array(n).fill(-1),
    drift: new Int32Array(n),
    retryAfterMs: new Float64Array(n),
  };
}
