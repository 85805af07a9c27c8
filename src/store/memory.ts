// MemoryStore: the embedded default. State for one process, in a hash table of its own, bounded in size, with
// expired credentials swept. The rules are the same as RedisStore's Lua scripts (redis.ts);
// the shared store suite (test/store.test.ts) holds both to them.
//
// One process only: two verifier processes with a MemoryStore each would each accept a code
// once. Use RedisStore for a fleet.

import { charCodeAt } from '../charcode.js';
import { intOption, optionsObject, TotpFleetError } from '../errors.js';
import { notedHashes, stringHash, tableCapacity } from '../strhash.js';
import {
  type AttemptLimits, type BackupCodeInfo, type BackupCodeSet, type BeginResult, type FinishOps, type Store, beginResult,
  BEGIN_ERROR, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_ERROR, DONE_FAILED, DONE_LOCKED, DONE_RELEASED, DONE_REPLAYED,
  NAMESPACE_NAME, OP_FAILURE, OP_RESET, OP_SUCCESS,
} from './types.js';

export interface MemoryStoreOptions {
  /** Credentials kept at most (1..100,000,000); default 1,000,000. When full of live state, new credentials get `error`. */
  maxCredentials?: number;
  /**
   * Make and write, at construction, all the memory that `maxCredentials` accounts need (the
   * records' pages and the table; as the JVM's AlwaysPreTouch does for its heap), instead of as
   * accounts arrive. A store that grows takes a page fault for each new page of records, which
   * the kernel must find and zero (on the README's VM, ~14 µs per 4 KiB page: ~0.3 µs per new
   * account); pre-touched, new accounts fault nothing, and a machine without the memory fails at
   * start, not under load. Costs the memory from the start (~140 MB for 1,000,000 accounts) and
   * start-up time (~0.3 s per 1,000,000 accounts there). The table is then made at once for
   * maxCredentials at load 1/2 or less, beyond the size a store that grows starts with, so that
   * it never grows. Default false. Namespaces (`namespace()`) grow as before.
   */
  preTouch?: boolean;
  /** @internal The clock, in ms (tests). */
  now?: () => number;
}

// One credential's record: REC doubles in a page of records (times are ms since the epoch; 0
// means "not set"). One record is one 64-byte cache line, and a page is one Float64Array, so
// that millions of credentials are a few hundred arrays, not millions of objects for the GC.
// The account's name is kept the same way: up to NAME_BYTES Latin-1 characters (user names,
// e-mail addresses) are copied into a page of bytes; only longer or other names are kept as
// the caller's string. (Keeping every caller's string made the garbage collector copy each new
// account's name out of the young generation and track a pointer to it from an old page: over
// 650 batches of 10,000 new accounts its scavenges took 1.7 s, against 0.7 s with the names
// here. The name's 40 bytes are one more cache line per new account in begin, though.)
/** High-water mark: the last accepted step, -1 when none (VOID: forgotten with attempts in flight). */
const H = 0;
/** Consecutive failures, meaningful while FU > now. */
const F = 1;
const FU = 2;
/** Locked until. */
const L = 3;
/** Attempts in flight, meaningful while PU > now. */
const P = 4;
const PU = 5;
/** Learned drift, in steps. */
const D = 6;
/**
 * The name's length when its characters are in the record's NAME_BYTES of #chars, or -1 when it
 * is a string in #long. (When a record may be dropped is kept apart, in #expiry, for the sweep.)
 */
const N = 7;
const REC = 8;
/**
 * H of a credential forgotten while attempts were in flight (as scripts.ts's VOID): their
 * finishes write nothing of theirs (DONE_ERROR) and give their reservations back; until the last
 * ends or PU passes (the record then expires), no attempt may begin.
 */
const VOID = -2;
/** Bytes of a record's name kept in place. */
const NAME_BYTES = 40;
const PAGE_BITS = 16;
const PAGE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE - 1;

/** One account's backup-code set. */
interface BackupSet {
  salt: string;
  hashes: Set<string>;
  createdAt: number;
  /** Dropped at this time. */
  x: number;
}

/**
 * Most table slots made at once: 8,388,608 (64 MB; load 1/4 at maxCredentials of 2,097,152).
 * A larger table is grown to as it fills: its pages are touched at random as accounts arrive, so
 * a table made for 100,000,000 would be resident (over 1 GB) after a few hundred thousand.
 */
const PRESIZE = 1 << 23;
/** Most record pages allocated at once (see #morePages): 16 pages, 1,048,576 records. */
const CHUNK_PAGES = 16;
const SWEEP_EVERY_MS = 60_000;
/** Records swept per account begun (incremental sweep; see begin). */
const SWEEP_PER_NEW = 4;
/**
 * Accounts whose table slots are read at once before they are looked up (#touch): few enough
 * that their cache lines and TLB entries are all still there when the lookups come.
 */
const BLOCK = 256;

/**
 * Per-credential state in this process's memory.
 *
 * Layout: an open-addressing hash table (linear probing, load ≤ 1/2) of [hash, record + 1]
 * pairs in one Int32Array maps an account to a record number; records live in pages of 65,536
 * (a Float64Array of fields, a Uint8Array of names, an Int32Array of generations). Freed records
 * are reused. `begin` remembers the records it found for its `accounts` array, so that `finish`
 * with the same array (the verifier's case) checks each record's generation instead of hashing
 * and probing again.
 *
 * @example
 * const verifier = await TotpVerifier.create({ store: new MemoryStore({ maxCredentials: 2_000_000 }) });
 */
export class MemoryStore implements Store {
  #slots: Int32Array;
  #mask: number;
  #count = 0;
  readonly #pages: Float64Array[] = [];
  /** Names of NAME_BYTES Latin-1 characters or fewer: NAME_BYTES bytes per record. */
  readonly #chars: Uint8Array[] = [];
  /** The other names, by record. */
  readonly #long = new Map<number, string>();
  /** Each record's generation: moves on when it is freed (so that finish knows begin's record is still the account's). */
  readonly #gens: Int32Array[] = [];
  /**
   * When each record may be dropped (ms): apart from the records, so that the sweep reads 8
   * bytes per record, not a 64-byte line.
   */
  readonly #expiry: Float64Array[] = [];
  /** Each record's stringHash (so that removing it needs no hashing). */
  readonly #hashes: Int32Array[] = [];
  /** Records ever handed out (the next new one), and freed ones to reuse. */
  #next = 0;
  /** Where the incremental sweep goes on. */
  #cursor = 0;
  readonly #free: number[] = [];
  /**
   * begin's records per accounts array, for finish: [record, generation] pairs (checked before
   * use); finish keeps the last it used for a later begin (a 10,000-account begin's is 80 KB).
   */
  readonly #begun = new WeakMap<readonly string[], Int32Array>();
  #spareFound: Int32Array | undefined;
  /** beginNow's accounts and their records, until their finish. */
  #nowAccounts: readonly string[] | undefined;
  #nowFound: Int32Array | undefined;
  /** Backup-code sets, by account (bounded by maxCredentials too). */
  readonly #backup = new Map<string, BackupSet>();
  /** Namespaces made by `namespace()`, closed with this store. */
  readonly #spaces = new Map<string, MemoryStore>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #lastFullSweep = -Infinity;
  /** #sweepSome's scratch: a block of expired records and their hashes. */
  readonly #sweptRecords = new Int32Array(BLOCK);
  readonly #sweptHashes = new Int32Array(BLOCK);
  /** What #touch read (kept so that its loads are not optimised away). */
  #touched = 0;
  #closed = false;

  constructor(opts?: MemoryStoreOptions) {
    const o = optionsObject<MemoryStoreOptions>('opts', opts);
    this.#max = intOption('maxCredentials', o.maxCredentials, 1, 100_000_000, 1_000_000);
    if (o.now !== undefined && typeof o.now !== 'function') throw new TypeError('"now" expected a function');
    if (o.preTouch !== undefined && typeof o.preTouch !== 'boolean') throw new TypeError('"preTouch" expected a boolean');
    this.#now = o.now ?? Date.now;
    // The table is made at once for maxCredentials at load ≤ 1/4 (up to PRESIZE slots; beyond, it
    // doubles at load 1/2), not grown from a few slots: a store that fills spends nothing on
    // doubling it, and its pages are calloc'd, so those no account has touched cost no memory.
    // Load 1/4, not 1/2: 8 more bytes per credential (32 MB for 1,000,000, whose records take
    // ~120 MB), and shorter clusters for every probe and backward shift: begin → finish of
    // 10,000 new accounts with 1 M live, 280 → 221 ns per account (bench/store-compare.ts).
    // With preTouch, at least load 1/2 at maxCredentials whatever its size: it never grows (a
    // doubling is a pause of the event loop, and its new pages faults).
    const cap = Math.max(Math.min(tableCapacity(2 * this.#max), PRESIZE), o.preTouch === true ? tableCapacity(this.#max) : 0);
    this.#slots = new Int32Array(2 * cap);
    this.#mask = cap - 1;
    if (o.preTouch === true) this.#preTouch();
    this.#timer = setInterval(() => this.#sweep(this.#now()), SWEEP_EVERY_MS).unref();
  }

  /**
   * Every record page maxCredentials needs, made now in chunks of CHUNK_PAGES, and every page of
   * them and of the table written once (a write, not a read: a read of an untouched page maps the
   * kernel's shared zero page and commits nothing).
   */
  #preTouch(): void {
    const pages = Math.ceil(this.#max / PAGE);
    while (this.#pages.length < pages) this.#morePages(Math.min(CHUNK_PAGES, pages - this.#pages.length));
    for (const columns of [this.#pages, this.#chars, this.#gens, this.#hashes, this.#expiry]) {
      for (const page of columns) page.fill(0);
    }
    this.#slots.fill(0);
  }

  /** Credentials held (live or not yet swept). */
  get size(): number {
    return this.#count;
  }

  async begin(accounts: readonly string[], limits: AttemptLimits): Promise<BeginResult> {
    this.#assertOpen();
    const n = accounts.length;
    const found = this.#takeFound(n);
    this.#begun.set(accounts, found);
    let hashes = notedHashes(accounts);
    if (hashes === undefined) {
      hashes = new Int32Array(n);
      for (let i = 0; i < n; i++) hashes[i] = stringHash(accounts[i]!);
    }
    return this.#begin(accounts, hashes, limits, beginResult(n), found);
  }

  /**
   * @internal `begin`, answered now, into the caller's `out` (each column at least
   * `accounts.length` long; the verifier keeps them per slice, so a call made from within
   * another, e.g. by an audit subscriber, cannot overwrite an answer still being read): no
   * promise, no per-call arrays. `hashes[i]` is stringHash(accounts[i]). A `finishNow` with
   * the same `accounts` finds their records again without a lookup.
   */
  beginNow(accounts: readonly string[], hashes: Int32Array, limits: AttemptLimits, out: BeginResult): BeginResult {
    this.#assertOpen();
    const n = accounts.length;
    out.state.fill(0, 0, n);
    out.lastStep.fill(-1, 0, n);
    out.drift.fill(0, 0, n);
    out.retryAfterMs.fill(0, 0, n);
    const found = this.#takeFound(n);
    this.#nowAccounts = accounts;
    this.#nowFound = found;
    return this.#begin(accounts, hashes, limits, out, found);
  }

  /** A [record, generation] array for `n` accounts: the spare one when it is long enough. */
  #takeFound(n: number): Int32Array {
    const found = this.#spareFound;
    if (found !== undefined && found.length >= 2 * n) {
      this.#spareFound = undefined;
      return found;
    }
    return new Int32Array(2 * n);
  }

  #begin(accounts: readonly string[], hashes: Int32Array, limits: AttemptLimits, out: BeginResult, found: Int32Array): BeginResult {
    const now = this.#now();
    const n = accounts.length;
    // Expired credentials are swept as new ones come in: up to SWEEP_PER_NEW records further
    // along per account, stopping once 2n records are free, so that their records are reused at
    // that rate with no pause for a full sweep (the timer's full sweep remains for an idle
    // store). Stopping there keeps each call's share even and the free records few and fresh
    // from the sweep's reads: sweeping all four per account freed records in bursts of up to 4n
    // a call (the calls then took ~8x as long) that waited, going cold, for calls to come.
    this.#sweepSome(now, SWEEP_PER_NEW * n, 2 * n);
    for (let i = 0; i < n; i++) {
      if (i % BLOCK === 0) {
        this.#touch(hashes, i, Math.min(n, i + BLOCK));
        this.#touchFree(Math.min(n, i + BLOCK) - i);
      }
      const account = accounts[i]!;
      const hash = hashes[i]!;
      let slot = this.#probe(account, hash);
      let r = this.#slots[2 * slot + 1]! - 1;
      if (r >= 0 && this.#expired(r, now)) {
        this.#remove(r);
        r = -1;
        slot = -1; // (the removal may have moved the entries after it)
      }
      if (r < 0) {
        // A new credential: nothing to read; it goes with one attempt in flight.
        r = this.#create(account, hash, now, slot);
        if (r < 0) {
          out.state[i] = BEGIN_ERROR;
          found[2 * i] = -1;
          continue;
        }
        found[2 * i] = r;
        found[2 * i + 1] = this.#gens[r >>> PAGE_BITS]![r & PAGE_MASK]!;
        const pu = now + limits.reservationMs;
        const c = this.#pages[r >>> PAGE_BITS]!;
        c[(r & PAGE_MASK) * REC + P] = 1;
        c[(r & PAGE_MASK) * REC + PU] = pu;
        this.#expiry[r >>> PAGE_BITS]![r & PAGE_MASK] = pu;
        out.state[i] = BEGIN_GO; // (lastStep -1 and drift 0 as beginResult made them)
        continue;
      }
      found[2 * i] = r;
      found[2 * i + 1] = this.#gens[r >>> PAGE_BITS]![r & PAGE_MASK]!;
      const c = this.#pages[r >>> PAGE_BITS]!;
      const o = (r & PAGE_MASK) * REC;
      if (c[o + L]! > now) {
        out.state[i] = BEGIN_LOCKED;
        out.retryAfterMs[i] = c[o + L]! - now;
        continue;
      }
      const f = c[o + FU]! > now ? c[o + F]! : 0;
      const p = c[o + PU]! > now ? c[o + P]! : 0;
      if (f >= limits.maxFailures) {
        // A streak past a limit lowered since it was counted: locked now, for lockoutMs, as the
        // failure that reached the limit would have locked it (not until the streak is forgotten).
        c[o + L] = now + limits.lockoutMs;
        c[o + F] = 0;
        c[o + FU] = 0;
        this.#keep(r, c[o + L]!);
        out.state[i] = BEGIN_LOCKED;
        out.retryAfterMs[i] = limits.lockoutMs;
        continue;
      }
      const h = c[o + H]!;
      if (f + p >= limits.maxFailures || (h === VOID && p > 0)) {
        // Only attempts in flight stand in the way (as many as the limit allows, or a forgotten
        // credential's): they end, or expire, by pu.
        out.state[i] = BEGIN_LOCKED;
        out.retryAfterMs[i] = p > 0 ? c[o + PU]! - now : limits.lockoutMs;
        continue;
      }
      if (h === VOID) c[o + H] = -1;
      const pu = now + limits.reservationMs;
      c[o + P] = p + 1;
      c[o + PU] = pu;
      this.#keep(r, pu);
      out.state[i] = BEGIN_GO;
      out.lastStep[i] = c[o + H]!;
      out.drift[i] = c[o + D]!;
    }
    return out;
  }

  async finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits): Promise<Uint8Array> {
    this.#assertOpen();
    let found = this.#begun.get(accounts);
    if (found !== undefined) this.#begun.delete(accounts);
    else if (accounts === this.#nowAccounts) found = this.#takeNowFound();
    return this.#finish(accounts, ops, limits, new Uint8Array(accounts.length), found);
  }

  /**
   * @internal `finish`, answered now (see beginNow), into the caller's `out` (at least
   * `accounts.length` long).
   */
  finishNow(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits, out: Uint8Array): Uint8Array {
    this.#assertOpen();
    let found = accounts === this.#nowAccounts ? this.#takeNowFound() : undefined;
    if (found === undefined) {
      found = this.#begun.get(accounts);
      if (found !== undefined) this.#begun.delete(accounts);
    }
    return this.#finish(accounts, ops, limits, out, found);
  }

  /** beginNow's records, handed to the finish of its accounts (once). */
  #takeNowFound(): Int32Array | undefined {
    const found = this.#nowFound;
    this.#nowAccounts = undefined;
    this.#nowFound = undefined;
    return found;
  }

  #finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits, out: Uint8Array, found: Int32Array | undefined): Uint8Array {
    const now = this.#now();
    for (let i = 0; i < accounts.length; i++) {
      const account = accounts[i]!;
      let r = found !== undefined && 2 * i < found.length ? found[2 * i]! : -1;
      if (r >= 0 && this.#gens[r >>> PAGE_BITS]![r & PAGE_MASK] === found![2 * i + 1]) {
        if (this.#expired(r, now)) {
          this.#remove(r);
          r = -1;
        }
      } else {
        r = this.#live(account, stringHash(account), now);
      }
      let c = r < 0 ? undefined : this.#pages[r >>> PAGE_BITS]!;
      let o = (r & PAGE_MASK) * REC;
      const p = c !== undefined && c[o + PU]! > now ? Math.max(0, c[o + P]! - 1) : 0;
      const op = ops.op[i];
      if (c !== undefined && c[o + H] === VOID) {
        // Begun before its credential was forgotten: only its reservation is given back.
        c[o + P] = p;
        out[i] = DONE_ERROR;
      } else if (op === OP_SUCCESS) {
        const step = ops.step[i]!;
        if (c !== undefined && c[o + H]! >= step) {
          c[o + P] = p;
          out[i] = DONE_REPLAYED;
          continue;
        }
        if (c === undefined) {
          r = this.#add(account, stringHash(account));
          c = this.#pages[r >>> PAGE_BITS]!;
          o = (r & PAGE_MASK) * REC;
        }
        c[o + H] = step;
        c[o + F] = 0;
        c[o + FU] = 0;
        c[o + L] = 0;
        c[o + P] = p;
        this.#keep(r, now + limits.replayMs);
        const drift = ops.drift[i]!;
        if (!Number.isNaN(drift)) {
          c[o + D] = drift;
          this.#keep(r, now + limits.driftMemoryMs);
        }
        out[i] = DONE_COMMITTED;
      } else if (op === OP_FAILURE) {
        if (c === undefined) {
          r = this.#add(account, stringHash(account));
          c = this.#pages[r >>> PAGE_BITS]!;
          o = (r & PAGE_MASK) * REC;
        }
        const f = (c[o + FU]! > now ? c[o + F]! : 0) + 1;
        c[o + P] = p;
        if (f >= limits.maxFailures) {
          c[o + L] = now + limits.lockoutMs;
          c[o + F] = 0;
          c[o + FU] = 0;
          this.#keep(r, c[o + L]!);
          out[i] = DONE_LOCKED;
        } else {
          c[o + F] = f;
          c[o + FU] = now + limits.failureMemoryMs;
          this.#keep(r, c[o + FU]!);
          out[i] = DONE_FAILED;
        }
      } else if (op === OP_RESET) {
        if (c !== undefined) {
          c[o + F] = 0;
          c[o + FU] = 0;
          c[o + L] = 0;
          c[o + P] = p;
        }
        out[i] = DONE_COMMITTED;
      } else {
        if (c !== undefined) c[o + P] = p;
        out[i] = DONE_RELEASED;
      }
    }
    if (found !== undefined) this.#spareFound = found;
    return out;
  }

  async health(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#slots = new Int32Array(2 * 16);
    this.#mask = 15;
    this.#count = 0;
    this.#pages.length = 0;
    this.#chars.length = 0;
    this.#long.clear();
    this.#gens.length = 0;
    this.#hashes.length = 0;
    this.#expiry.length = 0;
    this.#next = 0;
    this.#cursor = 0;
    this.#free.length = 0;
    this.#backup.clear();
    for (const space of this.#spaces.values()) await space.close();
  }

  namespace(name: string): MemoryStore {
    if (typeof name !== 'string' || !NAMESPACE_NAME.test(name)) throw new TypeError('"name" expected a namespace name like \'hotp\'');
    let space = this.#spaces.get(name);
    if (space === undefined) {
      space = new MemoryStore({ maxCredentials: this.#max, now: this.#now });
      this.#spaces.set(name, space);
    }
    return space;
  }

  /** Drops the credential; with attempts in flight, leaves it VOID until they end (see VOID). */
  async forget(account: string): Promise<void> {
    this.#assertOpen();
    const now = this.#now();
    const r = this.#live(account, stringHash(account), now);
    if (r < 0) return;
    const c = this.#pages[r >>> PAGE_BITS]!;
    const o = (r & PAGE_MASK) * REC;
    if (c[o + P]! > 0 && c[o + PU]! > now) {
      c[o + H] = VOID;
      c[o + F] = 0;
      c[o + FU] = 0;
      c[o + L] = 0;
      c[o + D] = 0;
      this.#expiry[r >>> PAGE_BITS]![r & PAGE_MASK] = c[o + PU]!;
    } else {
      this.#remove(r);
    }
  }

  async putBackupCodes(account: string, set: BackupCodeSet, keepMs: number): Promise<void> {
    this.#assertOpen();
    const now = this.#now();
    if (!this.#backup.has(account) && this.#backup.size >= this.#max) {
      for (const [a, b] of this.#backup) if (b.x <= now) this.#backup.delete(a);
      if (this.#backup.size >= this.#max) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is full');
    }
    this.#backup.set(account, { salt: set.salt, hashes: new Set(set.hashes), createdAt: set.createdAt, x: now + keepMs });
  }

  async backupCodeInfo(account: string): Promise<BackupCodeInfo | undefined> {
    this.#assertOpen();
    const b = this.#liveBackup(account);
    return b === undefined ? undefined : { salt: b.salt, remaining: b.hashes.size, createdAt: b.createdAt };
  }

  async consumeBackupCode(account: string, hash: string): Promise<number> {
    this.#assertOpen();
    const b = this.#liveBackup(account);
    return b !== undefined && b.hashes.delete(hash) ? b.hashes.size : -1;
  }

  async deleteBackupCodes(account: string): Promise<void> {
    this.#assertOpen();
    this.#backup.delete(account);
  }

  #liveBackup(account: string): BackupSet | undefined {
    const b = this.#backup.get(account);
    if (b !== undefined && b.x <= this.#now()) {
      this.#backup.delete(account);
      return undefined;
    }
    return b;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
  }

  /**
   * Reads the first table slot of hashes[start..end), in a loop with nothing else in it: the CPU
   * then has many of these cache misses in flight at once, and the lookups that follow find
   * them in cache (the table is far larger than the cache, and a lookup is mostly one miss).
   */
  #touch(hashes: Int32Array, start: number, end: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let any = 0;
    for (let i = start; i < end; i++) any |= slots[2 * (hashes[i]! & mask) + 1]!;
    this.#touched = any;
  }

  /**
   * Reads the records the next `count` new accounts would take from the free list (the sweep
   * just freed them; their 64-byte lines are not in cache), as #touch does for table slots:
   * their misses overlap instead of coming one by one in #add.
   */
  #touchFree(count: number): void {
    const free = this.#free;
    const pages = this.#pages;
    let any = this.#touched;
    const chars = this.#chars;
    const gens = this.#gens;
    for (let f = free.length - 1, stop = Math.max(0, free.length - count); f >= stop; f--) {
      const r = free[f]!;
      any += pages[r >>> PAGE_BITS]![(r & PAGE_MASK) * REC]! + chars[r >>> PAGE_BITS]![(r & PAGE_MASK) * NAME_BYTES]! +
        gens[r >>> PAGE_BITS]![r & PAGE_MASK]!;
    }
    this.#touched = any;
  }

  /** Whether record `r` is `account`'s. */
  #nameIs(r: number, account: string): boolean {
    const len = this.#pages[r >>> PAGE_BITS]![(r & PAGE_MASK) * REC + N]!;
    if (len < 0) return this.#long.get(r) === account;
    if (len !== account.length) return false;
    const chars = this.#chars[r >>> PAGE_BITS]!;
    const at = (r & PAGE_MASK) * NAME_BYTES;
    for (let i = 0; i < len; i++) if (chars[at + i] !== charCodeAt(account, i)) return false;
    return true;
  }

  /** Records `account` as record `r`'s name. */
  #setName(r: number, account: string): void {
    const c = this.#pages[r >>> PAGE_BITS]!;
    const len = account.length;
    if (len <= NAME_BYTES) {
      const chars = this.#chars[r >>> PAGE_BITS]!;
      const at = (r & PAGE_MASK) * NAME_BYTES;
      let i = 0;
      for (let u = 0; i < len && (u = charCodeAt(account, i)) < 256; i++) chars[at + i] = u;
      if (i === len) {
        c[(r & PAGE_MASK) * REC + N] = len;
        return;
      }
    }
    c[(r & PAGE_MASK) * REC + N] = -1;
    this.#long.set(r, account);
  }

  /** Keeps record `r` at least until `until` (ms). */
  #keep(r: number, until: number): void {
    const expiry = this.#expiry[r >>> PAGE_BITS]!;
    if (expiry[r & PAGE_MASK]! < until) expiry[r & PAGE_MASK] = until;
  }

  /** Whether record `r` may be dropped at `now`. */
  #expired(r: number, now: number): boolean {
    return this.#expiry[r >>> PAGE_BITS]![r & PAGE_MASK]! <= now;
  }

  /** Where `account` is in the table, or the empty slot where it would go. */
  #probe(account: string, hash: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = hash & mask;
    for (let at = slots[2 * i + 1]!; at !== 0; i = (i + 1) & mask, at = slots[2 * i + 1]!) {
      const r = at - 1;
      if (slots[2 * i] === hash && this.#nameIs(r, account)) break;
    }
    return i;
  }

  /** The credential's record unless it has expired (then it is dropped), or -1. */
  #live(account: string, hash: number, now: number): number {
    const r = this.#slots[2 * this.#probe(account, hash) + 1]! - 1;
    if (r < 0) return -1;
    if (this.#expired(r, now)) {
      this.#remove(r);
      return -1;
    }
    return r;
  }

  /**
   * A new record, if there is room (after sweeping expired ones at most once a second), or -1.
   * `slot`: as for #add.
   */
  #create(account: string, hash: number, now: number, slot: number): number {
    if (this.#count >= this.#max && now - this.#lastFullSweep >= 1000) {
      this.#lastFullSweep = now;
      this.#sweep(now);
      slot = -1;
    }
    return this.#count >= this.#max ? -1 : this.#add(account, hash, slot);
  }

  /**
   * Adds a record for `account` (not in the table): no mark, no failures, no expiry yet. `slot`:
   * the empty slot #probe just gave for it, or -1 to probe again.
   */
  #add(account: string, hash: number, slot = -1): number {
    if (2 * (this.#count + 1) > this.#mask + 1) {
      this.#grow();
      slot = -1;
    }
    let r = this.#free.pop();
    if (r === undefined) {
      r = this.#next++;
      if ((r & PAGE_MASK) === 0 && this.#pages.length === r >>> PAGE_BITS) this.#morePages();
    }
    const c = this.#pages[r >>> PAGE_BITS]!;
    const o = (r & PAGE_MASK) * REC;
    c[o + H] = -1;
    c[o + F] = 0;
    c[o + FU] = 0;
    c[o + L] = 0;
    c[o + P] = 0;
    c[o + PU] = 0;
    c[o + D] = 0;
    this.#expiry[r >>> PAGE_BITS]![r & PAGE_MASK] = 0;
    this.#setName(r, account);
    this.#hashes[r >>> PAGE_BITS]![r & PAGE_MASK] = hash;
    const i = slot < 0 ? this.#probe(account, hash) : slot;
    this.#slots[2 * i] = hash;
    this.#slots[2 * i + 1] = r + 1;
    this.#count++;
    return r;
  }

  /**
   * Pages for the next records: `k` of them, by default as many again as there are (1, 1, 2, 4,
   * … up to CHUNK_PAGES, and no more than maxCredentials needs), each column's in one buffer: one
   * allocation of up to a few tens of MB, which glibc maps whole, so with transparent huge pages
   * (npm start's GLIBC_TUNABLES) nearly all of it faults in 2 MiB at a time. (A 4 MB page of its
   * own is rarely aligned to 2 MiB: half of it faulted 4 KiB at a time.) Untouched, the buffers
   * cost no memory: records are handed out in order.
   */
  #morePages(k = Math.max(1, Math.min(CHUNK_PAGES, this.#pages.length, Math.ceil(this.#max / PAGE) - this.#pages.length))): void {
    const column = <T>(make: (buffer: ArrayBuffer, at: number) => T, bytes: number, into: T[]): void => {
      const buffer = new ArrayBuffer(k * bytes);
      for (let j = 0; j < k; j++) into.push(make(buffer, j * bytes));
    };
    column((b, at) => new Float64Array(b, at, PAGE * REC), PAGE * REC * 8, this.#pages);
    column((b, at) => new Uint8Array(b, at, PAGE * NAME_BYTES), PAGE * NAME_BYTES, this.#chars);
    column((b, at) => new Int32Array(b, at, PAGE), PAGE * 4, this.#gens);
    column((b, at) => new Int32Array(b, at, PAGE), PAGE * 4, this.#hashes);
    column((b, at) => new Float64Array(b, at, PAGE), PAGE * 8, this.#expiry);
  }

  /** Drops record `r`: backward-shift deletion keeps probes short. */
  #remove(r: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#hashes[r >>> PAGE_BITS]![r & PAGE_MASK]! & mask;
    while (slots[2 * i + 1] !== r + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== 0; j = (j + 1) & mask) {
      // Move j back into the hole at i unless j's home lies cyclically in (i, j].
      const home = slots[2 * j]! & mask;
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[2 * i] = slots[2 * j]!;
      slots[2 * i + 1] = slots[2 * j + 1]!;
      i = j;
    }
    slots[2 * i] = 0;
    slots[2 * i + 1] = 0;
    // (Most stores have no long names: then the record's line, not read by the sweep, is left
    // for #touchFree to fetch with others when the record is reused.)
    if (this.#long.size !== 0 && this.#pages[r >>> PAGE_BITS]![(r & PAGE_MASK) * REC + N] === -1) this.#long.delete(r);
    this.#gens[r >>> PAGE_BITS]![r & PAGE_MASK]! += 1;
    // A free record never looks expired: the sweep needs to read nothing else.
    this.#expiry[r >>> PAGE_BITS]![r & PAGE_MASK] = Number.POSITIVE_INFINITY;
    this.#free.push(r);
    this.#count--;
  }

  /** Doubles the table (the stored hashes place every entry again; no string is hashed). */
  #grow(): void {
    const old = this.#slots;
    const cap = 2 * (this.#mask + 1);
    const slots = new Int32Array(2 * cap);
    const mask = cap - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] === 0) continue;
      let i = old[k]! & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[k]!;
      slots[2 * i + 1] = old[k + 1]!;
    }
    this.#slots = slots;
    this.#mask = mask;
  }

  #sweep(now: number): void {
    this.#sweepSome(now, this.#next);
    for (const [account, b] of this.#backup) if (b.x <= now) this.#backup.delete(account);
  }

  /**
   * Drops the expired ones among the next `k` records, round the records from a cursor, until
   * `enough` records are free: a sequential scan, then the removals in blocks whose table slots
   * are read first (#touch).
   */
  #sweepSome(now: number, k: number, enough = Number.POSITIVE_INFINITY): void {
    const end = this.#next;
    if (end === 0) return;
    // The expired records and their hashes, in blocks of BLOCK (so that scratch stays small).
    const expired = this.#sweptRecords;
    const hashes = this.#sweptHashes;
    let r = this.#cursor;
    let want = enough - this.#free.length;
    for (let j = Math.min(k, end); j > 0 && want > 0;) {
      let found = 0;
      for (; j > 0 && found < BLOCK && found < want; j--, r++) {
        if (r >= end) r = 0;
        if (this.#expired(r, now)) expired[found++] = r; // (a free record's expiry is +Infinity)
      }
      for (let e = 0; e < found; e++) hashes[e] = this.#hashes[expired[e]! >>> PAGE_BITS]![expired[e]! & PAGE_MASK]!;
      this.#touch(hashes, 0, found);
      for (let e = 0; e < found; e++) this.#remove(expired[e]!);
      want -= found;
    }
    this.#cursor = r;
  }
}
